// The events and customer CSV line parsers. Invariants: no crash; the fast
// path, when it accepts a line, gives exactly what the general parser gives;
// a customer line either appends one row to every column or nothing.
import StaveFormat
import StaveIngest
import StaveIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let all = UnsafeBufferPointer(start: data, count: size)
    var customers = CustomerColumns()
    var parser = CustomerLineParser()
    var start = 0
    while start <= size {
        var end = start
        while end < size && all[end] != 10 { end += 1 }
        let line = UnsafeBufferPointer(rebasing: all[start..<end])
        let general = EventLineParser.parseGeneral(line)
        if let fast = EventLineParser.parseExportShape(line) {
            guard case .success(let g) = general, g == fast else { fatalError("fast path disagrees with the general parser") }
        }
        let before = customers.count
        let error = parser.parse(line, into: &customers)
        let grew = customers.count - before
        precondition((error == nil && grew == 1) || (error != nil && grew == 0), "customer parser half-appended a row")
        precondition(customers.names.lengths.count == customers.count && customers.address.lengths.count == customers.count
                     && customers.level.count == customers.count && customers.linked.count == customers.count)
        start = end + 1
    }
    return 0
}
