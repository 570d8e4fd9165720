import ArgumentParser

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a saved model on held-out data.")
    func run() throws {}
}
