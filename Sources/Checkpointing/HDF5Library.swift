import CHDF5

/// The HDF5 library this build links.
public enum HDF5Library {
    /// "major.minor.release" of the linked HDF5.
    public static var version: String {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        H5get_libversion(&major, &minor, &release)
        return "\(major).\(minor).\(release)"
    }
}
