import ArgumentParser
import BackendCheck
import Backends
import Compute
import Foundation

struct CheckBackend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-backend",
        abstract: "Run every backend operation on a backend and on the CPU backend from the same random inputs, and compare.",
        discussion: """
            Integer results must be equal and fp32 results within 1e-6 of the result's largest magnitude (bf16 products \
            within 1e-5). launch/gpu-check.sh runs it on the cuda backend of a GPU machine.
            """)

    @Option(help: ArgumentHelp("The backend to check: \(BackendRegistry.names.joined(separator: ", ")).", valueName: "name"))
    var backend = "cuda"

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard BackendRegistry.names.contains(backend) else {
            throw ValidationError("--backend: no backend '\(backend)' (known: \(BackendRegistry.names.joined(separator: ", ")))")
        }
    }

    func run() throws {
        let console = Console(format: output.format, isRoot: true)
        let checked: any ComputeBackend, bf16: any ComputeBackend
        do {
            checked = try BackendRegistry.make(backend, precision: .fp32)
            bf16 = try BackendRegistry.make(backend, precision: .bf16)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        var rows: [[String: Any]] = []
        func check(_ operations: [ComparedOperation], on backend: any ComputeBackend, against cpu: any ComputeBackend, tolerance: Double) {
            for operation in operations {
                let failures = compare(operation, on: backend, against: cpu, tolerance: tolerance)
                console.progress("\(failures.isEmpty ? "ok  " : "FAIL") \(operation)" + (failures.isEmpty ? "" : ": " + failures.prefix(3).joined(separator: "; ")))
                rows.append(["operation": operation.description, "passed": failures.isEmpty, "differences": failures])
            }
        }
        check(BackendOperations.all, on: checked, against: CPUBackend(), tolerance: 1e-6)
        let cpuBF16 = CPUBackend(matmulPrecision: .bf16)
        var notes: [String] = []
        if bf16.matmulPrecision == .bf16 && cpuBF16.matmulPrecision == .bf16 {
            check(BackendOperations.products(bf16: true), on: bf16, against: cpuBF16, tolerance: 1e-5)
        } else {
            notes.append("bf16 products not compared: \(bf16.matmulPrecision == .bf16 ? "this CPU has no native bf16 products" : "\(backend) has no bf16 products")")
            notes.forEach(console.note)
        }
        let failed = rows.filter { !($0["passed"] as! Bool) }.count
        console.result(text: "\(rows.count - failed) of \(rows.count) operations on \(backend) match the cpu backend",
                       json: ["backend": backend, "operations": rows, "failed": failed, "notes": notes])
        if failed > 0 { throw ExitCode.failure }
    }
}
