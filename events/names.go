package events

import (
	"fmt"
	"regexp"
	"strings"
)

// Names of the JetStream assets. They are part of the contract once shipped:
// operators replay and inspect them with the nats CLI.
const (
	// StreamBulk is the job event stream, the log every job state is folded from.
	StreamBulk = "BULK"
	// SubjectRoot prefixes every job event subject: bulk.<tenant>.<jobId>.<event>.
	SubjectRoot = "bulk"
	// BucketJobs holds the job projection, key <tenant>.<jobId>; written only by the projector.
	BucketJobs = "jobs"
	// BucketFHIR holds the clinical records, key <tenant>.<ResourceType>.<id>.
	BucketFHIR = "fhir"
	// BucketAPIKeys holds API keys by the hex SHA-256 of the key.
	BucketAPIKeys = "apikeys"
	// BucketWebhooks holds webhook subscriptions per tenant.
	BucketWebhooks = "webhooks"
	// BucketSigning holds the download URL signing keys shared by all gateways.
	BucketSigning = "signing"
	// ObjectStoreExports holds the NDJSON output, name <tenant>/<jobId>/<Type>.<n>.ndjson.
	ObjectStoreExports = "exports"
)

// Mode separates a customer's test data from its live data: a test key and a
// live key of one customer are two tenants.
type Mode string

// The two modes an API key can have.
const (
	ModeTest Mode = "test"
	ModeLive Mode = "live"
)

var customerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// ValidCustomer reports whether name can be a customer name: lower-case letters,
// digits and hyphens, at most 40, starting with a letter or digit.
func ValidCustomer(name string) bool { return customerRE.MatchString(name) }

// Tenant is the namespace every key, subject and object name starts with: a
// customer and a mode, written "<customer>_<mode>" (for example "acme_test").
// It is a single subject token.
type Tenant string

// TenantOf returns the namespace of customer in mode.
func TenantOf(customer string, mode Mode) Tenant {
	return Tenant(customer + "_" + string(mode))
}

// Customer returns the customer part of t.
func (t Tenant) Customer() string {
	c, _, _ := strings.Cut(string(t), "_")
	return c
}

// Mode returns the mode part of t.
func (t Tenant) Mode() Mode {
	_, m, _ := strings.Cut(string(t), "_")
	return Mode(m)
}

// Valid reports whether t is a well-formed namespace.
func (t Tenant) Valid() bool {
	c, m, ok := strings.Cut(string(t), "_")
	return ok && ValidCustomer(c) && (Mode(m) == ModeTest || Mode(m) == ModeLive)
}

// Subject returns the subject of a job event: bulk.<tenant>.<jobId>.<kind>.
func Subject(t Tenant, jobID string, kind Kind) string {
	return fmt.Sprintf("%s.%s.%s.%s", SubjectRoot, t, jobID, kind)
}

// JobSubjects returns the wildcard subject of all events of one job.
func JobSubjects(t Tenant, jobID string) string {
	return fmt.Sprintf("%s.%s.%s.>", SubjectRoot, t, jobID)
}

// KindSubjects returns the wildcard subject of one kind of event across all
// tenants and jobs, for consumers such as the exporter's.
func KindSubjects(kind Kind) string {
	return fmt.Sprintf("%s.*.*.%s", SubjectRoot, kind)
}

// AllSubjects is the wildcard subject of the whole log.
const AllSubjects = SubjectRoot + ".>"

// ParseSubject splits a job event subject into its tenant, job id and kind,
// each checked: a wildcard or an unknown kind is an error.
func ParseSubject(subject string) (Tenant, string, Kind, error) {
	parts := strings.Split(subject, ".")
	if len(parts) != 4 || parts[0] != SubjectRoot {
		return "", "", "", fmt.Errorf("parse subject %q: want %s.<tenant>.<jobId>.<event>", subject, SubjectRoot)
	}
	t, id, k := Tenant(parts[1]), parts[2], Kind(parts[3])
	switch {
	case !t.Valid():
		return "", "", "", fmt.Errorf("parse subject %q: tenant %q is not <customer>_<test|live>", subject, t)
	case !ValidJobID(id):
		return "", "", "", fmt.Errorf("parse subject %q: job id %q is not job_<ULID>", subject, id)
	case k.Type() == "":
		return "", "", "", fmt.Errorf("parse subject %q: unknown event %q", subject, k)
	}
	return t, id, k, nil
}

// JobKey returns the key of a job document in [BucketJobs].
func JobKey(t Tenant, jobID string) string { return string(t) + "." + jobID }

// RecordKey returns the key of a clinical record in [BucketFHIR].
func RecordKey(t Tenant, resourceType, id string) string {
	return string(t) + "." + resourceType + "." + id
}

// ObjectName returns the object store name of part n of a job's output of one type.
func ObjectName(t Tenant, jobID, resourceType string, n int) string {
	return fmt.Sprintf("%s/%s/%s.%d.ndjson", t, jobID, resourceType, n)
}

// ObjectPrefix returns the prefix shared by every object of one job.
func ObjectPrefix(t Tenant, jobID string) string { return string(t) + "/" + jobID + "/" }

var jobIDRE = regexp.MustCompile(`^job_[0-9A-Za-z]{26}$`)

// ValidJobID reports whether id has the form of a job id ("job_" and a ULID).
// A request path carrying anything else can be answered 404 without a lookup.
func ValidJobID(id string) bool { return jobIDRE.MatchString(id) }
