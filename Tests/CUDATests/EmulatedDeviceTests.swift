import CUDA
import Compute
import Foundation
import Testing
import TestSupport

/// The emulated device runs the kernels NVRTC compiles, and finds what it exists to find: a
/// missing barrier (the result changes with the seed that orders the threads) and an access
/// outside an allocation (named by kernel, argument and index).
@Suite(.serialized) struct EmulatedDeviceTests {
    @Test func everyKernelLoadsFromNVRTCsPTX() throws {
        guard let (device, nvrtc) = try EmulatedDevice.open() else { return }
        #expect(device.driver.devices.first?.architecture == "sm_80")
        for file in try KernelSources.all() {
            let ptx = try nvrtc.ptx(file.source, file: file.name, architecture: "compute_80")
            let entries = ptx.components(separatedBy: ".entry ").dropFirst().map { String($0.prefix { $0 != "(" }) }
            #expect(Set(entries) == Set(file.kernels), "\(file.name): every kernel an entry of the PTX")
            let module = try device.loadModule(ptx: ptx, kernels: file.kernels)
            #expect(file.kernels.map { module.kernel($0).name } == file.kernels)
        }
        // An entry the emulator has no host-compiled kernel for is refused by name.
        let ptx = try nvrtc.ptx("extern \"C\" __global__ void nowhere(float* x) { x[0] = 1.0f; }", file: "nowhere.cu",
                                architecture: "compute_80")
        #expect { _ = try device.loadModule(ptx: ptx, kernels: ["nowhere"]) } throws: { error in
            "\(error)".contains("the PTX entry nowhere has no host-compiled kernel")
        }
    }

    /// binary_cross_entropy's block reduction on 1,000 logits over 3 blocks of 256 threads (a
    /// grid-stride loop with a partial round) against the host; and its copy with the first
    /// barrier removed, which some seed of the same eight exposes.
    @Test func aMissingBarrierChangesTheResultUnderSomeSeed() throws {
        guard let (device, nvrtc) = try EmulatedDevice.open() else { return }
        let dense = try #require(try KernelSources.all().first { $0.name == "dense.cu" })
        let kernels = try device.loadModule(ptx: try nvrtc.ptx(dense.source, file: dense.name, architecture: "compute_80"),
                                            kernels: ["binary_cross_entropy"])
        let planted = try device.loadModule(ptx: try nvrtc.ptx(try EmulatedDevice.testKernels, file: "test_kernels.cu",
                                                               architecture: "compute_80"),
                                            kernels: ["binary_cross_entropy_missing_barrier"])
        var generator = SeededGenerator(seed: 7)
        let n = 1000
        let logits = (0..<n).map { _ in Float.random(in: -4...4, using: &generator) }
        let labels = (0..<n).map { _ in Float(Int.random(in: 0...1, using: &generator)) }
        let expected = zip(logits, labels).reduce(0.0) { sum, pair in
            let (x, y) = pair
            return sum + Double(max(x, 0) - x * y + log1p(exp(-abs(x))))
        }
        let logitsOnDevice = try DeviceArray(device, logits), labelsOnDevice = try DeviceArray(device, labels)
        let gradient = try DeviceArray(device, [Float](repeating: 0, count: n))

        func loss(_ kernel: CUDAModule.Kernel) throws -> Double {
            let loss = try DeviceArray(device, [0.0])
            defer { try? loss.free() }
            try device.launch(kernel, blocks: 3, threads: 256, arguments: [
                logitsOnDevice.argument, labelsOnDevice.argument, gradient.argument, .int64(n), .float32(0.5), loss.argument,
            ])
            return try loss.values()[0]
        }
        var wrongSeeds: [UInt64] = []
        for seed in UInt64(0)..<8 {
            EmulatedDevice.setSeed(seed)
            let correct = try loss(kernels.kernel("binary_cross_entropy"))
            #expect(abs(correct - expected) <= 1e-6 * expected, "seed \(seed): \(correct) against \(expected)")
            let gradients = try gradient.values()
            for i in [0, 1, 499, 999] {
                let x = logits[i], sigmoid = 1 / (1 + exp(-x))
                #expect(abs(gradients[i] - (sigmoid - labels[i]) * 0.5) <= 1e-6, "gradient \(i)")
            }
            let broken = try loss(planted.kernel("binary_cross_entropy_missing_barrier"))
            if abs(broken - expected) > 1e-3 * expected { wrongSeeds.append(seed) }
        }
        print("a missing barrier: wrong under seeds \(wrongSeeds) of 0 ..< 8")
        #expect(!wrongSeeds.isEmpty, "the missing barrier went unnoticed under every seed")
    }

    /// A fill one element too far stops at the guard page after the allocation, and the error
    /// names the kernel, the argument and the index (also for a pointer into the middle of an
    /// allocation); the device works on afterwards.
    @Test func anOffByOneIsAnAccessOutsideItsAllocation() throws {
        guard let (device, nvrtc) = try EmulatedDevice.open() else { return }
        let planted = try device.loadModule(ptx: try nvrtc.ptx(try EmulatedDevice.testKernels, file: "test_kernels.cu",
                                                               architecture: "compute_80"),
                                            kernels: ["fill_f32_off_by_one"])
        let dense = try #require(try KernelSources.all().first { $0.name == "dense.cu" })
        let kernels = try device.loadModule(ptx: try nvrtc.ptx(dense.source, file: dense.name, architecture: "compute_80"),
                                            kernels: ["fill_f32"])
        let x = try DeviceArray(device, [Float](repeating: 0, count: 1000))
        for (offset, count) in [(0, 1000), (400, 600)] {
            #expect {
                try device.launch(planted.kernel("fill_f32_off_by_one"), blocks: 4, threads: 256, arguments: [
                    .address(x.address.advanced(by: offset * 4)), .float32(2.5), .int64(count),
                ])
            } throws: { error in
                guard case let CUDAError.driver(call, code, message) = error else { return false }
                return call.hasPrefix("cuLaunchKernel(fill_f32_off_by_one") && code == 700
                    && message.hasPrefix("kernel fill_f32_off_by_one: argument 0 accessed index \(count) outside its allocation "
                                         + "(\(count) elements of 4 bytes")
            }
        }
        try device.launch(kernels.kernel("fill_f32"), blocks: 4, threads: 256, arguments: [x.argument, .float32(2.5), .int64(1000)])
        #expect(try x.values().allSatisfy { $0 == 2.5 })
        // Host memory passed for device memory is refused before the kernel runs.
        var host = [Float](repeating: 0, count: 4)
        let hostAddress = host.withUnsafeMutableBytes { UInt64(UInt(bitPattern: $0.baseAddress!)) }
        #expect {
            try device.launch(kernels.kernel("fill_f32"), blocks: 1, threads: 32, arguments: [
                .address(DeviceAddress(hostAddress)), .float32(1), .int64(4),
            ])
        } throws: { "\($0)".contains("argument 0") && "\($0)".contains("is not device memory") }
        #expect(host == [0, 0, 0, 0])
    }

    /// Warp shuffles: row_dots' lanes reduce by __shfl_down_sync (37 rows of 70 over 8 warps).
    @Test func warpShufflesReduceAcrossLanes() throws {
        guard let (device, nvrtc) = try EmulatedDevice.open() else { return }
        let dense = try #require(try KernelSources.all().first { $0.name == "dense.cu" })
        let kernels = try device.loadModule(ptx: try nvrtc.ptx(dense.source, file: dense.name, architecture: "compute_80"),
                                            kernels: ["row_dots"])
        var generator = SeededGenerator(seed: 3)
        let rows = 37, columns = 70
        let a = (0..<rows * columns).map { _ in Float.random(in: -1...1, using: &generator) }
        let b = (0..<rows * columns).map { _ in Float.random(in: -1...1, using: &generator) }
        let onDeviceA = try DeviceArray(device, a), onDeviceB = try DeviceArray(device, b)
        let dots = try DeviceArray(device, [Float](repeating: 0, count: rows * 2))
        for seed in UInt64(0)..<3 {
            EmulatedDevice.setSeed(seed)
            try device.launch(kernels.kernel("row_dots"), blocks: 2, threads: 128, arguments: [
                onDeviceA.argument, onDeviceB.argument, .int64(rows), .int64(columns), dots.argument, .int64(2),
            ])
            let got = try dots.values()
            for r in 0..<rows {
                let expected = (0..<columns).reduce(0.0) { $0 + Double(a[r * columns + $1]) * Double(b[r * columns + $1]) }
                #expect(abs(Double(got[2 * r]) - expected) <= 1e-5 * max(1, abs(expected)), "row \(r)")
                #expect(got[2 * r + 1] == 0, "row \(r): the stride's gap is left as it was")
            }
        }
    }

    /// Warp votes: ballots, any and all over 4 warps, one with every lane yes, one with none.
    @Test func warpVotesSeeEveryLane() throws {
        guard let (device, nvrtc) = try EmulatedDevice.open() else { return }
        let module = try device.loadModule(ptx: try nvrtc.ptx(try EmulatedDevice.testKernels, file: "test_kernels.cu",
                                                              architecture: "compute_80"),
                                           kernels: ["warp_votes"])
        var x = (0..<128).map { Float(($0 * 7) % 5) - 2 }
        for i in 32..<64 { x[i] = 1 }
        for i in 64..<96 { x[i] = -1 }
        let onDevice = try DeviceArray(device, x)
        let ballots = try DeviceArray(device, [UInt32](repeating: 0, count: 4))
        let any = try DeviceArray(device, [Int32](repeating: 0, count: 4)), all = try DeviceArray(device, [Int32](repeating: 0, count: 4))
        try device.launch(module.kernel("warp_votes"), blocks: 2, threads: 64, arguments: [
            onDevice.argument, .int64(128), ballots.argument, any.argument, all.argument,
        ])
        let expected = (0..<4).map { warp in (0..<32).reduce(UInt32(0)) { $0 | (x[warp * 32 + $1] > 0 ? 1 << UInt32($1) : 0) } }
        #expect(try ballots.values() == expected)
        #expect(try any.values() == expected.map { $0 != 0 ? 1 : 0 })
        #expect(try all.values() == expected.map { $0 == UInt32.max ? 1 : 0 })
    }

    /// The kernels' PTX is cached by source hash and architecture: a second load finds every
    /// file there and needs no NVRTC.
    @Test func kernelsLoadFromTheCacheWithoutNVRTC() throws {
        guard let (device, nvrtc) = try EmulatedDevice.open() else { return }
        let cache = ScratchFolder.path("recsys-ptx")
        var compilations = 0
        _ = try CUDAKernels(device: device, nvrtc: { compilations += 1; return nvrtc }, cacheFolder: cache)
        let files = try FileManager.default.contentsOfDirectory(atPath: cache).sorted()
        #expect(compilations == 1 && files.count == 4 && files.allSatisfy { $0.hasSuffix(".ptx") && $0.contains("-compute_80-") }, "\(files)")
        _ = try CUDAKernels(device: device, nvrtc: { throw CUDAError.nvrtc(call: "no NVRTC here", code: -1) }, cacheFolder: cache)
        // A damaged entry is compiled again and replaced.
        try "not PTX".write(toFile: cache + "/" + files[0], atomically: true, encoding: .utf8)
        compilations = 0
        _ = try CUDAKernels(device: device, nvrtc: { compilations += 1; return nvrtc }, cacheFolder: cache)
        let replaced = try String(contentsOfFile: cache + "/" + files[0], encoding: .utf8)
        #expect(compilations == 1 && replaced.contains(".entry "))
    }

    /// A CUDA context is current per host thread: on a thread that never made it current the
    /// driver refuses (as a GPU's does), and the device makes it current before its calls.
    @Test func everyThreadMakesTheContextCurrent() throws {
        guard let (device, _) = try EmulatedDevice.open() else { return }
        typealias Allocate = @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Int32
        let allocate = try device.driver.library.symbol("cuMemAlloc_v2", as: Allocate.self)
        let results = ThreadResults()
        let thread = Thread {
            var address: UInt64 = 0
            results.bare = allocate(&address, 64)
            results.throughDevice = (try? device.allocate(bytes: 64)) != nil
            results.done.signal()
        }
        thread.start()
        results.done.wait()
        #expect(results.bare == 201, "CUDA_ERROR_INVALID_CONTEXT on a thread without a current context")
        #expect(results.throughDevice)
    }
}

/// What the thread of `everyThreadMakesTheContextCurrent` saw.
private final class ThreadResults: @unchecked Sendable {
    var bare: Int32 = 0
    var throughDevice = false
    let done = DispatchSemaphore(value: 0)
}
