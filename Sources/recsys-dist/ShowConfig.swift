import ArgumentParser
import Training

struct ShowConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the resolved config: includes merged, --set applied, every default filled in.")

    @Option(help: "The YAML config file.") var config: String
    @Option(name: .customLong("set"), help: ArgumentHelp("Override a config key.", valueName: "key=value"))
    var overrides: [String] = []

    func run() throws {
        let configuration = try loadConfiguration(path: config, overrides: overrides)
        print(try ConfigurationLoader.yaml(configuration), terminator: "")
    }
}
