import Foundation

/// Runs the built binary under a real `mpirun` (OpenMPI), as a user launches a job.
public enum MPIRunner {
    /// `mpirun -np ranks recsys-dist arguments...`, allowed as root and past the core count.
    public static func run(ranks: Int, _ arguments: [String], timeout: TimeInterval = 300,
                           environment: [String: String] = [:]) throws -> BinaryRunner.Output {
        // mpirun passes its environment on to the ranks on this machine.
        try BinaryRunner.run(executable: "/usr/bin/mpirun",
                             ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", BinaryRunner.binaryPath] + arguments,
                             timeout: timeout, environment: environment)
    }
}
