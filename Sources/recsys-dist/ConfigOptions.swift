import ArgumentParser
import Configuration
import Foundation
import Training

/// The options of every command that reads a config: the file and its `--set` overrides.
struct ConfigOptions: ParsableArguments {
    @Option(help: "The YAML config file.")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key, e.g. training.batch_size=512 or "
                                                         + "data.delimited.categorical[3].column=7.", valueName: "key=value"))
    var overrides: [String] = []

    /// `error` with the file and line of the key it names, for problems found after loading.
    func located(_ error: Error) -> Error {
        guard let error = error as? ConfigurationError else { return error }
        return ConfigurationLoader.locate(error, configPath: config, overrides: overrides)
    }

    /// The config, loaded and validated, with `extra` overrides after the user's; a problem is
    /// one line on stderr and exit status 1 (no usage text: the command line was right).
    func load(adding extra: [String] = []) throws -> TrainingConfiguration {
        do {
            return try ConfigurationLoader.load(path: config, overrides: overrides + extra)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
            throw ExitCode.failure
        }
    }
}
