import ArgumentParser
import CUDA
import Foundation

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the NVIDIA driver and GPUs this process can use, or compile the CUDA kernels with NVRTC.",
        discussion: """
            The CUDA libraries are opened at run time: set RECSYS_CUDA_LIBRARY_PATH (folders, colon-separated) \
            when they are not where the dynamic loader, the CUDA toolkit or Python's nvidia packages put them. \
            --compile-kernels needs NVRTC only, no GPU and no driver.
            """)

    @Option(name: .customLong("compile-kernels"), help: ArgumentHelp("Compile every kernel file for these architectures.",
                                                                    valueName: "sm_80,sm_90"))
    var architectures: String?

    func run() throws {
        do {
            if let architectures {
                try compileKernels(architectures.split(separator: ",").map(String.init))
            } else {
                let driver = try CUDADriver()
                print("NVIDIA driver \(driver.version / 1000).\(driver.version % 1000 / 10) (\(driver.library.path)), \(driver.devices.count) GPU(s)")
                for device in driver.devices {
                    print("  \(device.index): \(device.name), \(device.architecture), \(device.memoryBytes >> 20) MiB")
                }
            }
        } catch let error as CUDAError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func compileKernels(_ architectures: [String]) throws {
        let nvrtc = try NVRTC()
        let files = try KernelSources.all()
        print("NVRTC \(nvrtc.version) (\(nvrtc.library.path)): \(files.count) kernel files")
        for file in files {
            for architecture in architectures {
                let cubin = try nvrtc.compile(file.source, file: file.name, architecture: architecture)
                print("  \(file.name) \(architecture): \(file.kernels.count) kernels, \(cubin.count) bytes of cubin")
            }
        }
    }
}
