/// Paths the tests need, found from this file's place in the package.
public enum TestPaths {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/TestSupport/TestPaths.swift
        return components.joined(separator: "/")
    }()

    /// The shared data sets beside the package (not part of it).
    public static var sharedData: String { packageRoot + "/../shared/data" }
}
