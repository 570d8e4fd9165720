import ArgumentParser
import Configuration
import Training

struct ShowConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the resolved config: includes merged, --set applied, every default filled in.")

    @OptionGroup var configOptions: ConfigOptions

    func run() throws {
        let configuration = try configOptions.load()
        print(try ConfigurationLoader.yaml(configuration), terminator: "")
    }
}
