//! Device selection at the edge: `auto | cpu | wgpu[:N] | cuda[:N]` to a Burn [`Device`].

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::ModelError;

/// A tensor backend codex can be built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// burn-flex, pure-Rust CPU.
    Flex,
    /// burn-ndarray, pure-Rust CPU (deprecated upstream).
    NdArray,
    /// cubecl over wgpu (Vulkan, Metal, DX12).
    Wgpu,
    /// cubecl over CUDA.
    Cuda,
}

impl Backend {
    /// The cargo feature that compiles this backend in.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::NdArray => "ndarray",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        }
    }

    /// One line for listings.
    pub fn description(self) -> &'static str {
        match self {
            Backend::Flex => "pure-Rust CPU backend (burn-flex), multi-threaded and SIMD",
            Backend::NdArray => "pure-Rust CPU backend (burn-ndarray, deprecated upstream)",
            Backend::Wgpu => "GPU backend over wgpu: Vulkan, Metal, DX12 (cubecl)",
            Backend::Cuda => "NVIDIA GPU backend over CUDA (cubecl)",
        }
    }

    /// Every backend codex knows, compiled in or not.
    pub const ALL: [Backend; 4] = [
        Backend::Cuda,
        Backend::Wgpu,
        Backend::Flex,
        Backend::NdArray,
    ];

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Flex => cfg!(feature = "flex"),
            Backend::NdArray => cfg!(feature = "ndarray"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Cuda => cfg!(feature = "cuda"),
        }
    }
}

/// A device this machine shows, and whether this build can use it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VisibleDevice {
    /// How to ask for it (`cpu`, `cuda:0`).
    pub device: String,
    /// Its model name, when known.
    pub name: Option<String>,
    /// Whether a compiled backend can run on it.
    pub usable: bool,
    /// The backend that would, if compiled in.
    pub backend: Option<&'static str>,
}

/// The CPU and every NVIDIA GPU in `host`, with the backend that can use each.
pub fn visible_devices(host: &codex_core::HostInfo) -> Vec<VisibleDevice> {
    let cpu = DeviceSpec::Cpu.backend().ok();
    let mut devices = vec![VisibleDevice {
        device: "cpu".into(),
        name: host.cpu_model.clone(),
        usable: cpu.is_some(),
        backend: cpu.map(Backend::feature),
    }];
    for (i, gpu) in host.gpus.iter().enumerate() {
        devices.push(VisibleDevice {
            device: format!("cuda:{i}"),
            name: Some(gpu.clone()),
            usable: Backend::Cuda.is_compiled(),
            backend: Backend::Cuda.is_compiled().then_some("cuda"),
        });
    }
    devices
}

/// The compiled backends as a registry, for `codex registry list`.
pub fn backend_registry() -> codex_core::Registry<Backend> {
    let mut r = codex_core::Registry::new("backend");
    for b in compiled_backends() {
        r.register(b.feature(), b.description(), b)
            .expect("backend names are distinct");
    }
    r
}

/// The backends compiled into this build, in order of preference for `auto`.
pub fn compiled_backends() -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| b.is_compiled())
        .collect()
}

fn compiled_list() -> String {
    let names: Vec<_> = compiled_backends().iter().map(|b| b.feature()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// A device as written in configuration (`run.device`) or on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// CUDA when compiled in and an NVIDIA GPU is visible, else the CPU; a build
    /// without a CPU backend uses its GPU backend.
    Auto,
    /// The CPU backend (flex, or ndarray when flex is not compiled in).
    Cpu,
    /// A wgpu adapter; `None` lets wgpu pick the best one.
    Wgpu(Option<usize>),
    /// A CUDA device; `None` is device 0.
    Cuda(Option<usize>),
}

impl FromStr for DeviceSpec {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        let err = || ModelError::DeviceSyntax {
            given: s.to_owned(),
        };
        let index = |i: &str| i.parse::<usize>().map_err(|_| err());
        match s.split_once(':') {
            None => match s {
                "auto" => Ok(Self::Auto),
                "cpu" => Ok(Self::Cpu),
                "wgpu" => Ok(Self::Wgpu(None)),
                "cuda" => Ok(Self::Cuda(None)),
                _ => Err(err()),
            },
            Some(("wgpu", i)) => Ok(Self::Wgpu(Some(index(i)?))),
            Some(("cuda", i)) => Ok(Self::Cuda(Some(index(i)?))),
            Some(_) => Err(err()),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Wgpu(None) => f.write_str("wgpu"),
            DeviceSpec::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
            DeviceSpec::Cuda(None) => f.write_str("cuda"),
            DeviceSpec::Cuda(Some(i)) => write!(f, "cuda:{i}"),
        }
    }
}

impl DeviceSpec {
    /// The concrete device spec `auto` stands for on this machine and build.
    pub fn resolve_auto(self) -> Self {
        if self != DeviceSpec::Auto {
            return self;
        }
        let cpu = Backend::Flex.is_compiled() || Backend::NdArray.is_compiled();
        if Backend::Cuda.is_compiled() && (!codex_core::nvidia_gpus().is_empty() || !cpu) {
            DeviceSpec::Cuda(None)
        } else if Backend::Wgpu.is_compiled() && !cpu {
            DeviceSpec::Wgpu(None)
        } else {
            DeviceSpec::Cpu
        }
    }

    /// The backend this spec runs on, or an error naming the feature that is missing.
    pub fn backend(self) -> Result<Backend, ModelError> {
        let needs = match self.resolve_auto() {
            DeviceSpec::Auto | DeviceSpec::Cpu => {
                return [Backend::Flex, Backend::NdArray]
                    .into_iter()
                    .find(|b| b.is_compiled())
                    .ok_or(ModelError::NoBackend);
            }
            DeviceSpec::Wgpu(_) => Backend::Wgpu,
            DeviceSpec::Cuda(_) => Backend::Cuda,
        };
        if needs.is_compiled() {
            Ok(needs)
        } else {
            Err(ModelError::BackendNotCompiled {
                device: self.to_string(),
                feature: needs.feature(),
                compiled: compiled_list(),
            })
        }
    }

    /// The Burn device for this spec. Creating a GPU device does not touch the
    /// hardware yet; the first tensor operation does.
    pub fn device(self) -> Result<Device, ModelError> {
        let index = match self.resolve_auto() {
            DeviceSpec::Wgpu(i) | DeviceSpec::Cuda(i) => i,
            DeviceSpec::Auto | DeviceSpec::Cpu => None,
        };
        self.backend()?.device(index)
    }
}

impl Backend {
    /// A device of this backend: adapter or GPU `index`, or the default one.
    #[cfg_attr(
        not(any(feature = "wgpu", feature = "cuda")),
        expect(
            unused_variables,
            reason = "the index picks a GPU only when a GPU backend is compiled"
        )
    )]
    pub fn device(self, index: Option<usize>) -> Result<Device, ModelError> {
        if !self.is_compiled() {
            return Err(ModelError::BackendNotCompiled {
                device: self.feature().to_owned(),
                feature: self.feature(),
                compiled: compiled_list(),
            });
        }
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            #[expect(deprecated, reason = "ndarray is offered for comparison with flex")]
            Backend::NdArray => Ok(Device::ndarray()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(match index {
                Some(i) => burn::tensor::DeviceKind::DiscreteGpu(i),
                None => burn::tensor::DeviceKind::DefaultDevice,
            })),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(index.unwrap_or(0))),
            #[allow(unreachable_patterns, reason = "arms exist per compiled backend")]
            _ => Err(ModelError::NoBackend),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_parse(text: &str, expect: Option<DeviceSpec>) {
        assert_eq!(text.parse::<DeviceSpec>().ok(), expect, "{text}");
        if let Some(spec) = expect {
            assert_eq!(spec.to_string(), text);
        }
    }

    #[test]
    fn parse_cases() {
        check_parse("auto", Some(DeviceSpec::Auto));
        check_parse("cpu", Some(DeviceSpec::Cpu));
        check_parse("wgpu", Some(DeviceSpec::Wgpu(None)));
        check_parse("wgpu:1", Some(DeviceSpec::Wgpu(Some(1))));
        check_parse("cuda", Some(DeviceSpec::Cuda(None)));
        check_parse("cuda:3", Some(DeviceSpec::Cuda(Some(3))));
        for bad in ["", "gpu", "cuda:", "cuda:x", "cpu:0", "CUDA", "cuda:-1"] {
            check_parse(bad, None);
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_a_clear_error() {
        let err = DeviceSpec::Cuda(Some(0)).device().unwrap_err().to_string();
        assert!(
            err.starts_with("device `cuda:0` needs the `cuda` backend"),
            "{err}"
        );
        assert!(err.contains("--features cuda"), "{err}");
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_is_a_clear_error() {
        let err = DeviceSpec::Wgpu(None).device().unwrap_err().to_string();
        assert!(err.contains("`wgpu` backend"), "{err}");
    }

    #[cfg(any(feature = "flex", feature = "ndarray"))]
    #[test]
    fn cpu_device_computes() {
        use burn::tensor::Tensor;
        let device = DeviceSpec::Cpu.device().unwrap();
        let a = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &device);
        let b = Tensor::<2>::from_floats([[5.0, 6.0], [7.0, 8.0]], &device);
        let c: Vec<f32> = a.matmul(b).into_data().try_to_vec().unwrap();
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        assert!(compiled_backends().contains(&DeviceSpec::Cpu.backend().unwrap()));
    }
}
