// Package loader is the HTTP client of the jetexport gateway that the
// `load` and `export` commands use.
//
// A [Loader] puts clinical records into the gateway through its FHIR
// endpoints: [Loader.LoadPaths] sends Bundle files (POST /fhir, as they
// are: the server keeps their ids and rewrites urn:uuid references),
// single-resource JSON files (PUT /fhir/{type}/{id}) and NDJSON files (one
// resource per line, sent as batch Bundles of PUT entries), walking folders
// recursively; [Loader.LoadSynthetic] sends generated patients from package
// synthetic the same way. Requests run with bounded concurrency; 429 and
// 503 answers are retried with backoff, honouring Retry-After; any other
// failure is reported in [Stats.Errors] with the file it came from and the
// server's OperationOutcome diagnostics, down to single entries of a
// batch-response.
//
// The same Loader drives the bulk export API: [Loader.StartExport] kicks a
// job off, [Loader.WaitJob] polls it until it ends, and [Loader.Download]
// streams every output file to disk and checks its line count against the
// manifest.
//
// A Loader is safe for concurrent use; its methods report progress through
// the small interfaces [Progress] and the callbacks they take.
package loader
