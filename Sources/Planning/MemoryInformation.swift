import Foundation

/// Memory the system can give this process now.
enum MemoryInformation {
    /// What this process may still allocate, in bytes: `MemAvailable` of /proc/meminfo, capped by
    /// the cgroup's limit less its usage (a container's or a job's); nil where neither is known.
    static func availableBytes() -> Int? {
        let system = meminfo("MemAvailable:")
        let group = cgroupHeadroom()
        switch (system, group) {
        case let (system?, group?): return min(system, group)
        case let (value?, nil), let (nil, value?): return value
        case (nil, nil): return nil
        }
    }

    /// The ranks of this job on this host (as the launcher reports them; 1 when it does not).
    static var ranksOnThisHost: Int {
        let environment = ProcessInfo.processInfo.environment
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"] {
            if let value = environment[key].flatMap({ Int($0) }), value >= 1 { return value }
        }
        return 1
    }

    private static func meminfo(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kilobytes * 1024
    }

    /// cgroup v2: memory.max less memory.current of this process's group ("max": no limit).
    private static func cgroupHeadroom() -> Int? {
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let line = membership.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        let folder = "/sys/fs/cgroup" + line.dropFirst(3)
        func read(_ name: String) -> Int? {
            (try? String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8))
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        guard let limit = read("memory.max"), let used = read("memory.current") else { return nil }
        return max(limit - used, 0)
    }
}
