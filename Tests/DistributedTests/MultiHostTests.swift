import Foundation
import Testing
import TestSupport

/// Two hosts on this machine — network namespaces joined by veth links to a bridge, each its own
/// network stack — and launch/mpirun-hostfile.sh across them over TCP, as on a cluster: the
/// launch agent and the network come from the environment. The job trains one rank per host,
/// both ranks write the checkpoint, and one host alone resumes it. Needs root (skipped with a
/// message otherwise); the namespaces and the bridge are removed afterwards.
@Suite(.serialized) struct MultiHostTests {
    static let root = TestPaths.packageRoot

    /// Runs a shell script; returns its status and what it printed.
    @discardableResult
    func shell(_ script: String, environment: [String: String] = [:]) throws -> BinaryRunner.Output {
        try BinaryRunner.run(executable: "/bin/sh", ["-c", script], environment: environment)
    }

    func losses(_ output: BinaryRunner.Output) throws -> (losses: [Double], json: [String: Any]) {
        let line = try #require(output.standardOutput.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return (try #require(json["losses"] as? [Double]), json)
    }

    @Test func trainsAcrossTwoHostsAndResumesOnOne() throws {
        guard getuid() == 0 else {
            print("skipped the multi-host test: making network namespaces needs root")
            return
        }
        let tag = String(UInt32.random(in: 0..<0xFFFF), radix: 16), octet = Int.random(in: 100...250)
        let network = "10.77.\(octet)", bridge = "rsdbr\(tag)", hosts = ["rsd\(tag)a", "rsd\(tag)b"]
        var setup = "set -e; ip link add \(bridge) type bridge; ip addr add \(network).1/24 dev \(bridge); ip link set \(bridge) up\n"
        for (i, host) in hosts.enumerated() {
            setup += """
                ip netns add \(host); ip netns exec \(host) ip link set lo up
                ip link add rsv\(tag)\(i) type veth peer name rsp\(tag)\(i); ip link set rsp\(tag)\(i) netns \(host)
                ip link set rsv\(tag)\(i) master \(bridge) up
                ip netns exec \(host) ip addr add \(network).\(2 + i)/24 dev rsp\(tag)\(i); ip netns exec \(host) ip link set rsp\(tag)\(i) up

                """
        }
        defer { _ = try? shell(hosts.map { "ip netns del \($0)" }.joined(separator: "; ") + "; ip link del \(bridge)") }
        let made = try shell(setup)
        guard made.status == 0 else {
            print("skipped the multi-host test: this machine does not let us make network namespaces (\(made.standardError))")
            return
        }

        let folder = ScratchFolder.path("recsys-hosts")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // The launch agent a cluster would give (ssh there): run the command inside the host's namespace.
        let agent = "\(folder)/agent.sh"
        try """
            #!/bin/sh
            host=$1; shift
            echo "$host" >> \(folder)/agent.log
            case "$host" in
            \(network).2) namespace=\(hosts[0]) ;;
            \(network).3) namespace=\(hosts[1]) ;;
            *) echo "agent: unknown host $host" >&2; exit 1 ;;
            esac
            exec ip netns exec "$namespace" sh -c "$*"

            """.write(toFile: agent, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: agent)
        try "\(network).2 slots=1\n\(network).3 slots=1\n".write(toFile: "\(folder)/hosts", atomically: true, encoding: .utf8)
        let config = "\(folder)/c.yaml"
        try (MultiRankTrainingTests.config + "\n")
            .replacingOccurrences(of: "checkpoint:\n  save_final: false", with: "checkpoint:\n  directory: \(folder)/runs\n  save_final: true")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let steps = ["--format", "json", "--set", "checkpoint.run_name=hosts"]

        // The reference: one process, 16 steps straight.
        let straight = try losses(try BinaryRunner.run(["train", "--config", config, "--set", "checkpoint.run_name=straight"] + steps.dropLast(2)
                                                       + ["--set", "training.max_steps=16"]))
        // Two hosts, one rank each, 8 steps and a checkpoint written by both.
        let launched = try BinaryRunner.run(
            executable: "/usr/bin/env",
            ["bash", "\(Self.root)/launch/mpirun-hostfile.sh", "\(folder)/hosts", "2", "1", config, "--set", "training.max_steps=8"] + steps,
            environment: ["RECSYS_DIST_BIN": BinaryRunner.binaryPath, "RECSYS_LAUNCH_AGENT": agent, "RECSYS_NETWORK": "\(network).0/24"])
        try #require(launched.status == 0, "\(launched.standardError)")
        let twoHosts = try losses(launched)
        #expect(twoHosts.json["world_size"] as? Int == 2)
        let started = try String(contentsOfFile: "\(folder)/agent.log", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(Set(started) == ["\(network).2", "\(network).3"], "the agent started a daemon on each host: \(started)")
        for (step, (a, b)) in zip(straight.losses, twoHosts.losses).enumerated() {
            #expect(abs(a - b) <= 2e-6 * max(abs(a), 1e-3), "step \(step + 1): \(b) on two hosts, \(a) in one process")
        }
        let inspected = try BinaryRunner.run(["inspect", "\(folder)/runs/hosts/latest"])
        #expect(inspected.standardOutput.contains("written by 2 rank(s)"), "\(inspected.standardOutput)")

        // One host alone resumes the two hosts' checkpoint for the other 8 steps.
        let resumed = try shell("exec ip netns exec \(hosts[0]) \"$BIN\" train --config \"$CONFIG\" --resume latest "
                                + "--set training.max_steps=16 --format json --set checkpoint.run_name=hosts",
                                environment: ["BIN": BinaryRunner.binaryPath, "CONFIG": config])
        try #require(resumed.status == 0, "\(resumed.standardError)")
        let rest = try losses(resumed)
        for (step, (a, b)) in zip(straight.losses.suffix(8), rest.losses.suffix(8)).enumerated() {
            #expect(abs(a - b) <= 2e-5 * max(abs(a), 1e-3), "step \(step + 9): \(b) resumed on one host, \(a) straight")
        }
    }
}
