# CMake toolchain file for CI's SentencePiece step only (`.ci/run` sets
# CMAKE_TOOLCHAIN_FILE to it for that one cargo call, and the `cmake` crate
# hands it to the configure of Google's library in sentencepiece-sys).
#
# sentencepiece-sys links the static library alone, but the library's own
# default also builds the shared one, which compiles every source file a
# second time. Static only, the library's build took 169 s of CPU instead of
# 314 s (a scratch crate depending on sentencepiece-sys 0.14.0, cold, dev
# profile at opt-level 3); the same sources and flags make the static library.
set(SPM_ENABLE_SHARED OFF CACHE BOOL "static libraries only")
