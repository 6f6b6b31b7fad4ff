//! Hot loops compiled for the CPU that runs them.
//!
//! Release builds target baseline x86-64 (SSE2), so that the binary runs on any x86-64
//! machine. Most CPUs in use have the x86-64-v3 features (AVX2, BMI, FMA: Intel since 2013,
//! AMD since 2015), on which the same loops run wider vectors, three-operand instructions
//! and shifts by register: a tenth less time for a gradient boosting fit. [`widest`] runs a
//! kernel in a copy compiled for those features when the CPU has them, and as compiled
//! otherwise.
//!
//! Both copies give the same bits: Rust never fuses a multiply and an add, or reorders
//! floating-point arithmetic, unless asked to, whatever the target features.
//!
//! Hand-written rather than the `multiversion` crate: one function with one `if`, where the
//! crate brings a procedural macro for each multiversioned function.

/// Runs `kernel` compiled for x86-64-v3 if the CPU has its features, else as compiled.
///
/// The kernel is compiled into the v3 copy only as far as it is inlined there: the closure,
/// called once, always is, but a function it calls must be `#[inline(always)]` to be part of
/// the copy (the detection is cached by `std`, a load and a test per call).
#[inline(always)]
pub(crate) fn widest<R>(kernel: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("bmi1")
        && std::is_x86_feature_detected!("bmi2")
        && std::is_x86_feature_detected!("fma")
        && std::is_x86_feature_detected!("lzcnt")
        && std::is_x86_feature_detected!("movbe")
    {
        // SAFETY: the CPU has every feature the copy is compiled for (checked just above).
        return unsafe { x86_64_v3(kernel) };
    }
    kernel()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,fma,lzcnt,movbe")]
fn x86_64_v3<R>(kernel: impl FnOnce() -> R) -> R {
    kernel()
}
