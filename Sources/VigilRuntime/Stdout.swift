import Foundation

/// Writes to standard output unbuffered (glibc's `stdout` global is not usable under strict concurrency).
func writeStdout(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
