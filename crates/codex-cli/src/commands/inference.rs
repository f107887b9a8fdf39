//! `codex generate`, `codex chat` and `codex eval lm`: a trained model used
//! through `codex_train::{generate_text, ChatSession, evaluate_lm}`.

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context, Result};
use codex_model::DeviceSpec;
use codex_tokenize::LossOn;
use codex_train::{ChatSession, GenerateRequest, LmEvalRequest};

use crate::cli::{ChatArgs, ChatCommand, GenerateArgs};

pub(crate) fn generate(args: GenerateArgs) -> Result<String> {
    let prompt = match args.prompt {
        Some(p) => p,
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read the prompt from stdin")?;
            s.trim_end_matches('\n').to_owned()
        }
    };
    let request = GenerateRequest {
        model: super::model_path(args.model.into_path()),
        prompt,
        max_new_tokens: args.max_new_tokens.map(|n| n as usize),
        sampling: args.sampling.sampling(),
    };
    let filter = super::safety::filter_maker();
    let out = codex_train::generate_text(&request, &DeviceSpec::Auto.device()?, Some(&filter))?;
    for w in &out.warnings {
        tracing::warn!("{w}");
    }
    if out.prompt_redacted {
        tracing::warn!("the safety policy redacted part of the prompt before the model saw it");
    }
    Ok(out.text + "\n")
}

pub(crate) fn eval_lm(model: &Path, data: &Path, split: &str, batches: u32) -> Result<String> {
    let request = LmEvalRequest {
        model: model.to_owned(),
        data: data.to_owned(),
        split: split.to_owned(),
        batches: batches as usize,
    };
    let filter = super::safety::filter_maker();
    let e = codex_train::evaluate_lm(&request, &DeviceSpec::Auto.device()?, Some(&filter))?;
    Ok(e.to_text())
}

/// `codex eval tasks`: a bar over the requests while the model answers.
pub(crate) fn eval_tasks(request: codex_train::tasks::TasksRequest) -> Result<String> {
    use std::io::IsTerminal;
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} requests {pos}/{len} {wide_bar} eta {eta}",
        )
        .expect("valid template"),
    );
    let outcome = codex_train::tasks::evaluate_tasks(
        &request,
        &DeviceSpec::Auto.device()?,
        &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    );
    bar.finish_and_clear();
    Ok(outcome?.to_text())
}

/// `codex chat`: one reply to `--messages`, or an interactive session on
/// stdin (`/reset` forgets the history, `/exit` or end of input leaves).
pub(crate) fn chat(args: ChatArgs) -> Result<String> {
    let sampling = args.sampling.sampling();
    let filter = super::safety::filter_maker();
    let mut session = ChatSession::open(
        &super::model_path(args.model.into_path()),
        args.chat_template.as_deref(),
        &sampling,
        args.max_new_tokens.map(|n| n as usize),
        &DeviceSpec::Auto.device()?,
        Some(&filter),
    )?;
    if let Some(file) = &args.batch {
        let out = args.out.as_ref().expect("clap requires --out with --batch");
        return chat_batch(&mut session, file, out);
    }
    if let Some(file) = &args.messages {
        let messages = codex_train::read_messages(file)?;
        let reply = session.reply(&messages)?;
        if reply.prompt_redacted {
            tracing::warn!(
                "the safety policy redacted part of the conversation before the model saw it"
            );
        }
        return Ok(if args.json {
            let mut v = serde_json::to_value(&reply)?;
            v["role"] = "assistant".into();
            serde_json::to_string_pretty(&v)? + "\n"
        } else {
            reply.content + "\n"
        });
    }
    let mut history: Vec<serde_json::Value> = Vec::new();
    let system = args
        .system
        .map(|s| serde_json::json!({"role": "system", "content": s}));
    history.extend(system.clone());
    eprintln!(
        "chatting with {} (template: {}); /reset forgets the conversation, /exit leaves",
        session.format().tokenizer_path.display(),
        session.format().template.origin()
    );
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        eprint!("> ");
        line.clear();
        if stdin.read_line(&mut line)? == 0 {
            break;
        }
        let text = line.trim_end_matches(['\n', '\r']);
        match text.trim() {
            "/exit" | "/quit" => break,
            "/reset" => {
                history.clear();
                history.extend(system.clone());
                continue;
            }
            "" => continue,
            _ => {}
        }
        history.push(serde_json::json!({"role": "user", "content": text}));
        match session.reply(&history) {
            Ok(reply) => {
                println!("{}", reply.content);
                history.push(serde_json::json!({"role": "assistant", "content": reply.content}));
            }
            Err(e) => {
                // The turn is dropped; the session goes on.
                history.pop();
                eprintln!("error: {e}");
            }
        }
    }
    Ok(String::new())
}

/// `codex chat render`: the rendered text, its ids and the loss mask.
pub(crate) fn chat_render(command: ChatCommand) -> Result<String> {
    let ChatCommand::Render {
        model,
        messages,
        add_generation_prompt,
        loss_on,
        chat_template,
        json,
    } = command;
    let format = codex_train::chat_format(
        &super::model_path(model.into_path()),
        chat_template.as_deref(),
    )?;
    let messages = codex_train::read_messages(&messages)?;
    let loss_on = match loss_on.as_str() {
        "all" => LossOn::All,
        "completion" => LossOn::Completion,
        _ => LossOn::Assistant,
    };
    let enc = format.encode(&messages, add_generation_prompt, loss_on)?;
    let masked = enc.mask.iter().filter(|&&m| m == 1).count();
    if json {
        let v = serde_json::json!({
            "text": enc.text,
            "ids": enc.ids,
            "assistant_mask": enc.mask,
            "template": format.template.origin(),
            "generation_blocks": format.template.has_generation_blocks(),
        });
        return Ok(serde_json::to_string_pretty(&v)? + "\n");
    }
    Ok(format!(
        "{}\n\n{} tokens, {masked} in the mask (template: {})\n",
        enc.text,
        enc.ids.len(),
        format.template.origin()
    ))
}

/// `codex chat --batch`: the predictions of [`codex_train::answer_records`]
/// as JSONL for `codex eval text`.
fn chat_batch(session: &mut ChatSession, file: &Path, out: &Path) -> Result<String> {
    let predictions = codex_train::answer_records(session, file)?;
    let mut lines = String::new();
    for p in &predictions {
        lines.push_str(&serde_json::to_string(p)?);
        lines.push('\n');
    }
    codex_core::write_bytes_atomic(out, lines.as_bytes())?;
    Ok(format!(
        "answered {} conversations of {}; predictions in {} (score them with `codex eval text --hyp {} --metrics em`)\n",
        predictions.len(),
        file.display(),
        out.display(),
        out.display()
    ))
}
