//! Writes synthetic corpus for benchmarks: `synth OUT BYTES [SEED]`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.first().expect("usage: synth OUT BYTES [SEED]");
    let bytes: u64 = args
        .get(1)
        .expect("usage: synth OUT BYTES [SEED]")
        .parse()
        .expect("BYTES");
    let seed: u64 = args.get(2).map_or(0, |s| s.parse().expect("SEED"));
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).expect("create OUT"));
    codex_data::synth::write_corpus(&mut file, bytes, seed).expect("write corpus");
}
