// The gzip and zstd input reader (InputReader), fed arbitrary bytes through
// a scratch file. Invariants: no crash; every read returns at most what
// was asked; an error is a StaveError naming the input; a stream that ends
// without error ends for good (a second read at the end returns 0).
import StaveFormat
import StaveIO
#if canImport(Glibc)
import Glibc
#endif

/// One unlinked scratch file for the whole run, rewritten for each input.
let scratch: Int32 = {
    let path = "/tmp/stave-fuzz-compressed-\(getpid())"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot create \(path)")
    unlink(path)
    return fd
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fd = scratch
    precondition(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0)
    var written = 0
    while written < size {
        let n = write(fd, data + written, size - written)
        precondition(n > 0)
        written += n
    }
    precondition(lseek(fd, 0, SEEK_SET) == 0)
    // Small, odd read sizes reach the paths where the decoder's output is
    // full before its input is used up.
    var buffer = [UInt8](repeating: 0, count: 4099)
    var total = 0
    do {
        let reader = try InputReader(fd: fd, path: "fuzz-input")
        var ask = 1
        while true {
            precondition(ask >= 1 && ask <= buffer.count)
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0.baseAddress!, count: ask) }
            precondition(n >= 0 && n <= ask, "read more than asked")
            if n == 0 {
                let again = try buffer.withUnsafeMutableBytes { try reader.read(into: $0.baseAddress!, count: 16) }
                precondition(again == 0, "data after the end")
                break
            }
            total += n
            // Bounded work per input: a small bomb stops here.
            if total > 64 << 20 { break }
            // Cycles through 1...buffer.count, never past the buffer (the
            // old step, ask % 4099 + 97, reached 4195 and let the decoder
            // write past it: a harness bug the fuzzer found, not a reader bug).
            ask = (ask + 96) % buffer.count + 1
        }
        if reader.kind == InputReader.Kind.plain { precondition(total == size, "plain input changed size") }
    } catch let e as StaveError {
        precondition(e.description.hasPrefix("fuzz-input"), "an error that does not name the input: \(e)")
    } catch {
        fatalError("unexpected error \(error)")
    }
    return 0
}
