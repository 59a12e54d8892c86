// Every parser of query parameters (dates, datetimes, customer lists,
// attribute codes, and the server's URL query strings for every endpoint).
// Invariants: no crash; a parsed bound formats back to a datetime that
// parses to the same value; a rejected query names a parameter.
import StaveFormat
import StaveQuery
import StaveReports

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
    // The dashboard's URL query string, then each endpoint's parameters.
    if case .success(let pairs) = QueryString.parse(text) {
        for endpoint in ["summary", "stats", "profile", "breakdown", "hours", "top-zips", "customers", "nothing"] {
            if case .failure(let e) = QueryRequest.parse(endpoint: endpoint, id: pairs.first?.1, query: pairs) {
                precondition(!e.message.isEmpty, "an error without a message")
            }
        }
    }
    return 0
}
