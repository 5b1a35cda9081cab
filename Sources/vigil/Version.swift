/// Vigil's release, as `vigil --version` prints it and the Debian package is named (a Debian version: digits first).
enum VigilVersion {
    static let string = "0.9.0"
}
