import ArgumentParser

/// How a command prints its result.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Human-readable lines.
    case text
    /// Progress as text on stderr; the last line of stdout is one JSON object.
    case json
}

/// The `--format` option of the commands that print a result.
struct OutputOptions: ParsableArguments {
    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text
}
