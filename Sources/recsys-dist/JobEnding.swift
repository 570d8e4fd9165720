import Checkpointing
import Distributed
import Foundation
import Training

/// On the first SIGTERM, SIGINT or SIGUSR1 (Slurm preemption, Ctrl-C, the launchers' Ctrl-C through
/// mpirun) training stops at the end of its step on every rank and saves a checkpoint; a second
/// signal ends the process at once.
/// The signals are also unblocked on this thread: a process inherits its launcher's mask, and
/// launchers that start it from a worker thread (as Foundation's `Process` does) block them.
func installStopHandlers() {
    var signals = sigset_t()
    sigemptyset(&signals)
    // SIGUSR1: what launch/mpirun-stoppable.sh sends through mpirun (which forwards it) on Ctrl-C.
    for number in [SIGTERM, SIGINT, SIGUSR1] {
        signal(number) { received in
            if !StopRequest.record(received) { _exit(128 + received) }
        }
        sigaddset(&signals, number)
    }
    pthread_sigmask(SIG_UNBLOCK, &signals, nil)
}

/// Ends the job after `error`, with one line: the failing rank ends the whole job (the others
/// may be waiting in a collective). An error every rank reaches (a config key, a missing file)
/// is printed once, by rank 0: the other ranks give rank 0 two seconds to end the job first
/// (mpirun then signals them, and they leave without a word), and speak only when it does not
/// (the error was theirs alone).
func endJob(after error: Error, console: Console, communicator: Communicator) -> Never {
    let message = oneLine(error)
    let line = message.hasPrefix("rank ") || communicator.size == 1 ? message : "rank \(communicator.rank): \(message)"
    if communicator.size > 1 && !communicator.isRoot {
        for _ in 0..<200 {
            if StopRequest.pending != 0 { Foundation.exit(1) }
            usleep(10_000)
        }
    }
    console.error(line)
    if communicator.size > 1 { communicator.abort(code: 1) }
    MPICommunicator.finalize()
    Foundation.exit(1)
}

/// An error as one line: Foundation's file errors ("Error Domain=NSCocoaErrorDomain Code=512 …")
/// become the path and the system's reason; anything else prints as it describes itself.
func oneLine(_ error: Error) -> String {
    let nsError = error as NSError
    guard [NSCocoaErrorDomain, NSPOSIXErrorDomain].contains(nsError.domain) else { return "\(error)" }
    return "\(FileSystemError.from(error, path: nsError.userInfo[NSFilePathErrorKey] as? String ?? "(a file)"))"
}
