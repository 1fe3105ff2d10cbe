"""The `sources` filegroup each checked package exports to tests/tidy."""

def tidy_sources():
    """Declares :sources, the package's C++ files, for the determinism check."""
    native.filegroup(
        name = "sources",
        srcs = native.glob([
            "**/*.h",
            "**/*.cc",
        ]),
        visibility = ["//tests/tidy:__pkg__"],
    )
