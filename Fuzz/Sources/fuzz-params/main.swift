// Every parser of query parameters (dates, datetimes, customer lists,
// attribute codes). Invariants: no crash; a parsed bound formats back to a
// datetime that parses to the same value.
import StaveFormat
import StaveQuery

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if case .success(let v) = CivilTime.parseBound(text) {
        guard case .success(let w) = CivilTime.parseBound(CivilTime.format(v)), w == v else { fatalError("bound does not round-trip") }
    }
    _ = CivilTime.parse(data, count: size)
    if case .success(let d) = CivilTime.parseDate(data, count: size) {
        precondition(d >= CivilTime.minDay && d <= CivilTime.maxDay)
        _ = CivilTime.formatDate(d)
    }
    if case .success(let ids) = QueryFilter.parseCustomers(text) { _ = QueryFilter(customers: ids) }
    _ = CustomerFilter.parseCodes(text, option: "--level", names: CustomersSchema.levelNames)
    _ = CustomerFilter.parseCodes(text, option: "--campaign", names: CustomersSchema.campaignNames)
    return 0
}
