import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file or stdin in chunks without blocking Swift's cooperative threads: each
/// blocking `read(2)` runs on a dispatch queue of its own.
final class FileReader: Sendable {
    /// The name used in messages: the path, or `<stdin>`.
    let name: String
    /// The file's size in bytes when opened (0 for stdin and pipes).
    let size: Int
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private let queue = DispatchQueue(label: "pacer.input")

    /// Opens `path` for reading; `-` means stdin.
    init(path: String) throws(InputError) {
        if path == "-" {
            self.name = "<stdin>"
            self.descriptor = STDIN_FILENO
            self.ownsDescriptor = false
            self.size = 0
            return
        }
        self.name = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw InputError(file: path, message: "cannot open: \(String(cString: strerror(errno)))")
        }
        var info = stat()
        if fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(descriptor)
            throw InputError(file: path, message: "is a directory, not an input file")
        }
        self.descriptor = descriptor
        self.ownsDescriptor = true
        self.size = (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : 0
    }

    deinit {
        if ownsDescriptor { close(descriptor) }
    }

    /// The next chunk of at most `size` bytes; empty at the end of the input.
    func read(upTo size: Int = 64 * 1024) async throws(InputError) -> [UInt8] {
        let descriptor = self.descriptor
        let result: Result<[UInt8], InputError> = await withCheckedContinuation { continuation in
            queue.async {
                var buffer = [UInt8](repeating: 0, count: size)
                while true {
                    let count = buffer.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, size) }
                    if count >= 0 {
                        buffer.removeSubrange(count...)
                        continuation.resume(returning: .success(buffer))
                        return
                    }
                    if errno == EINTR { continue }
                    let reason = String(cString: strerror(errno))
                    continuation.resume(returning: .failure(InputError(file: self.name, message: "cannot read: \(reason)")))
                    return
                }
            }
        }
        return try result.get()
    }
}

@inline(__always)
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
