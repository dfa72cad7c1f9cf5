/* A small streaming JSON writer to a FILE. It tracks commas, nesting and indentation so
 * callers only say what to write; misuse (a value where a key is due, unbalanced ends) and
 * write errors are remembered and reported once by wp_json_end.
 *
 * Numbers: NAN and infinities are written as null (JSON has no spelling for them, and a
 * missing reading must not turn into 0). Doubles use the shortest of %.15g / %.17g that reads
 * back to the same value; this assumes LC_NUMERIC is "C" (nothing in wattprof calls
 * setlocale).
 *
 * Strings: ", \ and control characters are escaped (\n, \t, \r, \b, \f, else \u00XX);
 * U+2028/U+2029 are escaped too so the output is also safe inside JavaScript. Input is taken
 * as UTF-8: bytes that are not part of a well-formed UTF-8 sequence (stray continuation
 * bytes, truncated or overlong sequences, surrogates, code points above U+10FFFF) become
 * \ufffd, one per maximal ill-formed subpart as the Unicode standard recommends (so the
 * result equals Python's bytes.decode("utf-8", "replace")); the output is always valid JSON
 * and valid UTF-8. */
#ifndef WP_JSON_H
#define WP_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" { /* bench/burn/burn.cu writes its JSON line with it too */
#endif

#define WP_JSON_MAX_DEPTH 32

struct wp_json {
    FILE *f;
    int indent; /* spaces per level; 0 writes everything on one line */
    int depth;
    bool first[WP_JSON_MAX_DEPTH + 1]; /* no element written yet at this level */
    bool is_obj[WP_JSON_MAX_DEPTH + 1];
    bool want_value; /* a key was written, its value is due */
    int err;         /* first error, negative errno */
};

void wp_json_init(struct wp_json *j, FILE *f, int indent);
void wp_json_obj_begin(struct wp_json *j);
void wp_json_obj_end(struct wp_json *j);
void wp_json_arr_begin(struct wp_json *j);
void wp_json_arr_end(struct wp_json *j);
void wp_json_key(struct wp_json *j, const char *key);
void wp_json_str(struct wp_json *j, const char *s); /* NULL writes null */
void wp_json_double(struct wp_json *j, double v);   /* NAN/inf write null */
void wp_json_int(struct wp_json *j, int64_t v);
void wp_json_uint(struct wp_json *j, uint64_t v);
void wp_json_bool(struct wp_json *j, bool v);
void wp_json_null(struct wp_json *j);

/* key + value in one call, for object members */
void wp_json_kstr(struct wp_json *j, const char *key, const char *s);
void wp_json_kdouble(struct wp_json *j, const char *key, double v);
void wp_json_kint(struct wp_json *j, const char *key, int64_t v);
void wp_json_kuint(struct wp_json *j, const char *key, uint64_t v);
void wp_json_kbool(struct wp_json *j, const char *key, bool v);
void wp_json_knull(struct wp_json *j, const char *key);

/* Writes a final newline (when indenting), flushes, and returns 0, -EINVAL if the document
 * was not complete and balanced or the writer was misused, or -EIO if writing failed
 * (ferror or fflush; a full disk shows up here). */
int wp_json_end(struct wp_json *j);

/* For JSON Lines (indent 0): checks the document is complete, ends it with "\n" without
 * flushing (the caller flushes once, at the end) and readies j for the next line. Returns 0,
 * -EINVAL for an incomplete document or misuse, or -EIO if the stream has a write error. */
int wp_json_end_line(struct wp_json *j);

/* Writes s as a JSON string literal (with quotes) with the escaping above; returns 0 or -EIO.
 * The one string escaper: everything JSON that wattprof writes goes through this file. */
int wp_json_write_string(FILE *f, const char *s);

#ifdef __cplusplus
}
#endif

#endif
