/*
 * stave.h: the C interface of libstave (the StaveC library product).
 *
 * One header for any language that binds stave: open a store, run the
 * queries the CLI and the HTTP API answer (the same QueryRequest path, so
 * the answers are the same), stream a store's events, convert and append.
 * Results and events leave through the Arrow C Stream Interface
 * (https://arrow.apache.org/docs/format/CStreamInterface.html), so pyarrow,
 * DuckDB, Polars or nanoarrow take them without copying or parsing.
 *
 * Conventions
 * - Every function that can fail returns 0 on success, or one of the CLI's
 *   exit codes (sysexits(3)): 64 a bad parameter, 65 bad input data, 66 a
 *   missing or damaged store or input file, 67 not found (a customer),
 *   70 an internal error, 73 an output that exists or must not be
 *   replaced, 74 an I/O error, 75 the store is busy (another writer).
 *   On failure, if `error` is not NULL, *error receives a NUL-terminated
 *   UTF-8 message (the CLI's, naming the file or parameter) that the caller
 *   frees with stave_free(). On success *error is left untouched.
 * - Parameters are name/value pairs of NUL-terminated UTF-8 strings, spelt
 *   as in `stave serve`'s HTTP API (README.md, "API"): from, to (a date,
 *   'YYYY-MM-DD HH:MM[:SS]' or with a T), customer (a list: 48,49,100),
 *   level, campaign, gender, status, names (current or v1), and per query
 *   with_customers, sort, order, limit, offset, by, per. Unlike the HTTP
 *   API, a profile has no default limit (every row) and no largest page.
 * - A stave_store is safe to use from several threads at once. Each query
 *   sees the store's latest commit (appends by this or another process).
 * - An ArrowArrayStream returned here owns what it points to; release it
 *   with its release callback (consumers such as pyarrow do). It stays
 *   valid after stave_close() of the store it came from.
 */
#ifndef STAVE_H
#define STAVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STAVE_ABI_VERSION 1

/* The Arrow C Data and C Stream Interface structures, as the Arrow
 * specification defines them (guarded so that a program that includes
 * Arrow's own definitions first keeps them). */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
    const char *format;
    const char *name;
    const char *metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema **children;
    struct ArrowSchema *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream *, struct ArrowSchema *out);
    int (*get_next)(struct ArrowArrayStream *, struct ArrowArray *out);
    const char *(*get_last_error)(struct ArrowArrayStream *);
    void (*release)(struct ArrowArrayStream *);
    void *private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

/* An open store. */
typedef struct stave_store stave_store;

/* stave's version, as `stave --version` prints it ("0.1.0"); a static
 * string, not to be freed. */
const char *stave_version(void);

/* Frees a string this library returned (an error or a summary). */
void stave_free(char *text);

/* Opens the store directory `path` for queries; `threads` <= 0 means one
 * per processor. A missing or damaged store is 66, naming the path. */
int stave_open(const char *path, int threads, stave_store **out, char **error);

/* Closes a store (NULL is allowed). Streams taken from it stay valid. */
void stave_close(stave_store *store);

/* Runs a query: `endpoint` is summary, profile, stats, breakdown, hours,
 * top-zips or customer (the id as parameter `id`). The answer, the CLI's
 * columns with the CLI's types (int64, float64, utf8; nullable where a
 * value can be missing), is one stream of record batches in *out. */
int stave_query(stave_store *store, const char *endpoint, size_t n_params,
                const char *const *names, const char *const *values,
                struct ArrowArrayStream *out, char **error);

/* Streams the store's events, one record batch per row group that the
 * range and customer list keep (row groups their statistics rule out are
 * not read). Columns, as `stave export --format parquet` writes them:
 * event_id, customer_id, track_id (int64), datetime (timestamp[us], local
 * time, no zone), mobile (int32 0/1), listening_zip (utf8, five digits).
 * Parameters: columns (a comma list of those names, in the order wanted;
 * default all), from, to, customer. Memory: one row group at a time. */
int stave_scan(stave_store *store, size_t n_params,
               const char *const *names, const char *const *values,
               struct ArrowArrayStream *out, char **error);

/* Converts the events CSV or Parquet file `input` into a new store
 * `output`, as `stave convert` does. Parameters: customers (cust.csv),
 * force (true replaces an existing store, never anything else),
 * skip_bad_rows, rejects (a file), max_errors, header (true, false;
 * default: detected), zstd_level (0-19), threads. On success *summary, if
 * not NULL, receives a JSON object (rows, rejected, parts, input_bytes,
 * output_bytes, seconds, customers) to free with stave_free(). */
int stave_convert(const char *input, const char *output, size_t n_params,
                  const char *const *names, const char *const *values,
                  char **summary, char **error);

/* Appends the events of `input` (CSV or Parquet) to the open store, as
 * `stave append` does (atomically: all rows or none; a repeated event id
 * is an error unless allow_duplicate_ids is true). Parameters:
 * skip_bad_rows, rejects, max_errors, header, allow_duplicate_ids,
 * compact (default true), threads. *summary as for stave_convert. */
int stave_append(stave_store *store, const char *input, size_t n_params,
                 const char *const *names, const char *const *values,
                 char **summary, char **error);

#ifdef __cplusplus
}
#endif

#endif /* STAVE_H */
