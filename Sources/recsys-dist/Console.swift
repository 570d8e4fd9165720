import Foundation

import ArgumentParser
import DataPipeline
import Training

/// How much a command says.
enum LogLevel: String, ExpressibleByArgument, CaseIterable {
    /// Progress lines, notes and errors.
    case info
    /// Notes and errors, no progress lines.
    case warning
    /// Errors only.
    case error
}

/// Where a command's lines go: progress on stdout (stderr in JSON mode, so stdout ends with the
/// JSON object), errors on stderr; only rank 0 prints progress and results. On a terminal a
/// live progress line (step, samples/s, loss, ETA) is redrawn in place between log lines.
final class Console: @unchecked Sendable {
    let format: OutputFormat
    let isRoot: Bool
    let level: LogLevel
    private let isTerminal: Bool
    private var lastDrawn = 0.0
    private var liveLineShown = false

    init(format: OutputFormat, isRoot: Bool, level: LogLevel = .info) {
        self.format = format
        self.isRoot = isRoot
        self.level = level
        let stream = format == .json ? STDERR_FILENO : STDOUT_FILENO
        isTerminal = isatty(stream) == 1 && !Self.startedByLauncher
    }

    /// Whether a launcher (mpirun, srun) started this process. A launcher gives every rank a
    /// pseudo-terminal even when its own output goes to a file, so under one the live line is
    /// never drawn: redirected logs hold plain lines only. Read before MPI starts (see
    /// `worldCommunicator`): an MPI singleton sets launcher variables of its own.
    static let startedByLauncher: Bool = {
        let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "SLURM_STEP_ID"]
        return launcherVariables.contains { ProcessInfo.processInfo.environment[$0] != nil }
    }()

    private var progressHandle: FileHandle { format == .json ? FileHandle.standardError : FileHandle.standardOutput }

    func progress(_ line: String) {
        guard isRoot, level == .info else { return }
        clearLiveLine()
        write(line + "\n", to: progressHandle)
    }

    /// A note that is not progress ("saved ...", "resumed ..."): shown unless the level is error.
    func note(_ line: String) {
        guard isRoot, level != .error else { return }
        clearLiveLine()
        write(line + "\n", to: progressHandle)
    }

    /// The live progress line, on a terminal only, at most ten times a second.
    func live(_ state: TrainingProgress) {
        guard isRoot, isTerminal, level == .info else { return }
        let now = Date().timeIntervalSince1970
        guard now - lastDrawn >= 0.1 || state.step == state.totalSteps else { return }
        lastDrawn = now
        let eta = Int(state.secondsRemaining.rounded())
        liveText("step \(state.step)/\(state.totalSteps)  epoch \(state.epoch)  loss \(Training.format(state.loss, 4))  "
                 + "\(Int(state.samplesPerSecond)) samples/s  ETA \(eta / 60):\(String(format: "%02d", eta % 60))")
    }

    /// `line` drawn in place of the previous live line (a terminal only).
    func liveText(_ line: String) {
        guard isRoot, isTerminal, level == .info else { return }
        write("\r\u{1B}[2K" + line, to: progressHandle)
        liveLineShown = true
    }

    /// Where long passes over data show their progress: a live line on a terminal, plain
    /// lines (every few seconds, and one at the end of each pass) otherwise.
    var dataProgress: ProgressOutput {
        ProgressOutput(line: { [self] in progress($0) }, live: isTerminal ? { [self] in liveText($0) } : nil)
    }

    private func clearLiveLine() {
        if liveLineShown { write("\r\u{1B}[2K", to: progressHandle) }
        liveLineShown = false
    }

    /// A line that ends a run without an error (a stop on a signal): rank 0 only, on stderr,
    /// at every log level.
    func notice(_ line: String) {
        guard isRoot else { return }
        clearLiveLine()
        write(line + "\n", to: FileHandle.standardError)
    }

    func error(_ line: String) {
        clearLiveLine()
        write("error: " + line + "\n", to: FileHandle.standardError)
    }

    /// The final result: text lines, or one JSON object as the last line of stdout.
    func result(text: String, json: [String: Any]) {
        guard isRoot else { return }
        clearLiveLine()
        switch format {
        case .text:
            write(text + "\n", to: FileHandle.standardOutput)
        case .json:
            // JSON has no NaN or infinity: such a number (an AUC of one class) is null, at any depth.
            func cleaned(_ value: Any) -> Any {
                if let double = value as? Double, !double.isFinite { return NSNull() }
                if let doubles = value as? [Double] { return doubles.map { $0.isFinite ? $0 as Any : NSNull() } }
                if let object = value as? [String: Any] { return object.mapValues(cleaned) }
                return value
            }
            let cleaned = json.mapValues(cleaned)
            let data = (try? JSONSerialization.data(withJSONObject: cleaned, options: [.sortedKeys])) ?? Data("{}".utf8)
            write(String(decoding: data, as: UTF8.self) + "\n", to: FileHandle.standardOutput)
        }
    }

    private func write(_ text: String, to handle: FileHandle) {
        handle.write(Data(text.utf8))
    }
}

/// A JSON value for an optional number: the number, or null.
func jsonValue(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }
