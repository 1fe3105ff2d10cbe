"""ember_fuzz_test: one fuzz target, two lives.

Under a normal build the target is a cc_test that links replay_main.cc and
runs LLVMFuzzerTestOneInput on every file of its corpus folder, so the corpus
is a regression test run by `bazel test //fuzz/...` (gcc, no libFuzzer).

Under `--config=fuzz` (which sets --define=ember_fuzz=libfuzzer, clang, and
-fsanitize=fuzzer,address,undefined at link time) the same target links
libFuzzer's main instead, and `<name>_fuzzer` is the binary to fuzz with.
"""

def ember_fuzz_test(name, srcs, deps = [], corpus = None, **kwargs):
    """Declares <name> (corpus replay test) and <name>_fuzzer (cc_binary).

    Args:
      name: test name; the fuzzer binary is name + "_fuzzer".
      srcs: sources defining LLVMFuzzerTestOneInput.
      deps: libraries the target needs.
      corpus: folder (relative to this package) of seed inputs.
      **kwargs: passed to the cc_test (tags, size, ...).
    """
    if not corpus:
        fail("ember_fuzz_test needs a corpus folder")
    corpus_files = native.glob([corpus + "/**"])
    if not corpus_files:
        fail("corpus folder %s is empty" % corpus)
    corpus_path = native.package_name() + "/" + corpus

    # The target's code, always linked whole: under libFuzzer nothing in the
    # program refers to LLVMFuzzerTestOneInput until libFuzzer's main does.
    native.cc_library(
        name = name + "_lib",
        srcs = srcs,
        deps = deps,
        alwayslink = True,
        testonly = True,
    )
    main = select({
        "//fuzz:libfuzzer": [],
        "//conditions:default": ["//fuzz:replay_main"],
    })

    # The C driver (CC=clang) links only the C part of the UBSan runtime;
    # its vptr and function checks need the C++ part too. Static linking
    # keeps every instrumented object in the one binary libFuzzer watches.
    linkopts = select({
        "//fuzz:libfuzzer": ["-fsanitize-link-c++-runtime"],
        "//conditions:default": [],
    })

    # "-runs=0" makes libFuzzer execute the corpus once and stop; the replay
    # main ignores flags. The corpus path is relative to the runfiles root,
    # which is the working directory of a test.
    native.cc_test(
        name = name,
        deps = [":" + name + "_lib"] + main,
        data = corpus_files,
        args = ["-runs=0", corpus_path],
        linkopts = linkopts,
        linkstatic = True,
        **kwargs
    )
    native.cc_binary(
        name = name + "_fuzzer",
        deps = [":" + name + "_lib"] + main,
        data = corpus_files,
        linkopts = linkopts,
        linkstatic = True,
        testonly = True,
    )
