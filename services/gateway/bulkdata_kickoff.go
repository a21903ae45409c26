package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/oklog/ulid/v2"

	"github.com/jetexport/jetexport/events"
	"github.com/jetexport/jetexport/internal/fhir"
	"github.com/jetexport/jetexport/internal/fhirstore"
)

// statusPath starts every status URL: statusPath + jobId.
const statusPath = "/fhir/bulkstatus/"

// kickoff is a validated $export request.
type kickoff struct {
	level        events.Level
	groupID      string
	types        []string // requested by _type; nil for the level's default
	since, until *time.Time
	elements     []string
	typeFilters  []string
	patients     []string
	lenient      bool
	warnings     []string
}

// kickOff handles GET and POST /fhir/$export, /fhir/Patient/$export and
// /fhir/Group/{id}/$export: it checks the headers and parameters, the Group
// and the caller's scopes, then starts the job as /v1 does and answers 202
// with the status URL in Content-Location.
func (g *Gateway) kickOff(c *fiber.Ctx) error {
	lenient, err := checkKickoffHeaders(c.Get(fiber.HeaderAccept), c.GetReqHeaders()["Prefer"])
	if err != nil {
		return err
	}
	params, err := g.kickoffParams(c)
	if err != nil {
		return err
	}
	level, groupID := events.LevelSystem, ""
	switch p := c.Path(); {
	case strings.HasPrefix(p, "/fhir/Patient/"):
		level = events.LevelPatient
	case strings.HasPrefix(p, "/fhir/Group/"):
		level, groupID = events.LevelGroup, utils.CopyString(c.Params("id"))
	}
	k, err := readKickoff(params, level, lenient, g.now())
	if err != nil {
		return err
	}
	k.groupID = groupID
	cl := callerOf(c)
	if level == events.LevelGroup {
		if err := g.checkGroup(c.UserContext(), cl.Tenant, &k); err != nil {
			return err
		}
	}
	types, filters, err := k.scoped(cl)
	if err != nil {
		return err
	}
	jobID := newJobID()
	ev := events.New(ulid.Make().String(), g.now(), cl.Tenant, jobID, &events.ExportRequested{
		ResourceTypes: types, Since: k.since, Until: k.until, Level: k.level, GroupID: k.groupID,
		Patients: k.patients, TypeFilters: filters, Elements: k.elements, OutputFormat: contentFHIRNDJSON,
		Door: "fhir", RequestURL: g.baseURL(c) + utils.CopyString(c.OriginalURL()), Requester: cl.ID, Lenient: k.lenient,
	})
	if err := g.requestExport(c.UserContext(), ev); err != nil {
		return err
	}
	g.recordWarnings(c, cl.Tenant, jobID, k.warnings)
	g.log.Info().Str("request_id", g.requestID(c)).Str("tenant", string(cl.Tenant)).Str("job_id", jobID).
		Str("level", string(k.level)).Int("types", len(types)).Bool("bearer", cl.Bearer).Msg("FHIR export requested")
	c.Set(fiber.HeaderContentLocation, g.baseURL(c)+statusPath+jobID)
	issues := []fhir.Issue{{Severity: fhir.SeverityInformation, Code: fhir.IssueInformational,
		Diagnostics: "export " + jobID + " accepted; poll the Content-Location URL for its status"}}
	for _, w := range k.warnings {
		issues = append(issues, fhir.Issue{Severity: fhir.SeverityWarning, Code: fhir.IssueNotSupported, Diagnostics: w})
	}
	return g.writeRaw(c, fiber.StatusAccepted, contentFHIR, fhir.Outcome(issues...))
}

// recordWarnings keeps what a lenient kick-off ignored for the manifest.
// The job exists already, so a failure here is logged, not answered.
func (g *Gateway) recordWarnings(c *fiber.Ctx, t events.Tenant, jobID string, warnings []string) {
	if len(warnings) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), readTimeout)
	defer cancel()
	if err := g.bulk.put(ctx, t, jobID, bulkJob{Warnings: warnings}, 0); err != nil {
		g.log.Error().Err(err).Str("request_id", g.requestID(c)).Str("job_id", jobID).Msg("kick-off warnings not stored")
	}
}

// checkKickoffHeaders requires Accept: application/fhir+json and Prefer:
// respond-async, and reports Prefer: handling=lenient.
func checkKickoffHeaders(accept string, prefer []string) (lenient bool, err error) {
	if !acceptsFHIRJSON(accept) {
		if accept == "" {
			accept = "none"
		}
		return false, fail(kindInvalid, "Accept %s: a kick-off must send Accept: application/fhir+json", truncate(accept, 64)).withCode("invalid_accept")
	}
	async := false
	for _, h := range prefer {
		for pref := range strings.SplitSeq(h, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(pref), "=")
			name, value = strings.ToLower(strings.TrimSpace(name)), strings.ToLower(strings.Trim(strings.TrimSpace(value), `"`))
			switch {
			case name == "respond-async":
				async = true
			case name == "handling" && value == "lenient":
				lenient = true
			}
		}
	}
	if !async {
		return false, fail(kindInvalid, "a kick-off must send Prefer: respond-async (optionally with handling=lenient)").withCode("invalid_prefer")
	}
	return lenient, nil
}

// acceptsFHIRJSON reports whether an Accept header names application/fhir+json.
func acceptsFHIRJSON(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == contentFHIR {
			return true
		}
	}
	return false
}

// kickoffParams reads the parameters of a GET (query) or POST (Parameters
// body; query parameters are not allowed besides it).
func (g *Gateway) kickoffParams(c *fiber.Ctx) ([]rawParam, error) {
	query := string(c.Request().URI().QueryString())
	if c.Method() == fiber.MethodGet {
		return paramsFromQuery(query)
	}
	if query != "" {
		return nil, fail(kindInvalid, "a POST kick-off takes its parameters in the Parameters body, not in the query").withCode("invalid_parameters")
	}
	if err := requireContentType(c.Get(fiber.HeaderContentType), contentFHIR, contentJSON); err != nil {
		return nil, err
	}
	body, err := requestBody(c, g.cfg.ExportBodyLimit)
	if err != nil {
		return nil, err
	}
	return paramsFromBody(body)
}

// checkGroup answers 404 unless the tenant has the Group. A patient
// parameter narrows a Group-level export to those of its members: the job
// becomes a Patient-level export of them (members as of now, not as of the
// export's snapshot), which the exporter knows how to run.
func (g *Gateway) checkGroup(ctx context.Context, t events.Tenant, k *kickoff) error {
	if !fhir.ValidID(k.groupID) {
		return fail(kindNotFound, "Group/%s does not exist: a Group id has 1 to 64 letters, digits, '-' and '.'", truncate(k.groupID, 64)).withCode("group_not_found")
	}
	if g.records == nil {
		return fail(kindNotFound, "this gateway serves no FHIR records, so no Group").withCode("group_not_found")
	}
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	res, err := g.records.Get(ctx, t, "Group", k.groupID)
	if errors.Is(err, fhirstore.ErrNotFound) || errors.Is(err, fhirstore.ErrDeleted) {
		return fail(kindNotFound, "Group/%s does not exist for this tenant; store it with PUT /fhir/Group/%s first", k.groupID, k.groupID).withCode("group_not_found")
	}
	if err != nil {
		return recordError(err)
	}
	if len(k.patients) == 0 {
		return nil
	}
	members, err := fhirstore.GroupMembers(res.Body)
	if err != nil {
		return fail(kindInvalid, "Group/%s cannot be read: %v", k.groupID, err).withCode("group_invalid")
	}
	var outside []string
	for _, p := range k.patients {
		if !slices.Contains(members, p) {
			outside = append(outside, "Patient/"+p)
		}
	}
	if len(outside) > 0 {
		return fail(kindInvalid, "patient: %s not an active member of Group/%s", strings.Join(outside, ", "), k.groupID).withCode("invalid_parameters")
	}
	k.level = events.LevelPatient
	return nil
}

// scoped returns the types to export and the _typeFilter values, within
// what the caller may read: a requested type outside its scopes is 403,
// without _type only the covered types are exported, and a type covered by
// granular scopes (system/Observation.rs?category=...) is filtered by
// their queries.
func (k kickoff) scoped(cl caller) ([]string, []string, error) {
	types := k.types
	if types == nil {
		types = fhir.ResourceTypes()
		if k.level != events.LevelSystem {
			types = fhir.PatientCompartmentTypes()
		}
	}
	restricted := map[string][]string{}
	var out, denied []string
	for _, t := range types {
		cov := cl.covers(t)
		switch {
		case !cov.Covered && k.types != nil:
			denied = append(denied, t)
		case !cov.Covered:
		default:
			out = append(out, t)
			if cov.Queries != nil {
				restricted[t] = cov.Queries
			}
		}
	}
	if len(denied) > 0 {
		return nil, nil, fail(kindForbidden, "the access token's scopes (%s) do not cover %s", cl.Scopes, strings.Join(denied, ", ")).withCode("insufficient_scope")
	}
	if len(out) == 0 {
		return nil, nil, fail(kindForbidden, "the access token's scopes (%s) cover none of the types this export would contain", cl.Scopes).withCode("insufficient_scope")
	}
	return out, scopeFilters(k.typeFilters, restricted), nil
}

// scopeFilters combines the client's _typeFilter values with the queries
// of granular scopes: for a restricted type every client query is ANDed
// with each scope query (the scope queries are ORed, as queries of one type
// are), and without a client query the scope queries are the filter.
func scopeFilters(values []string, restricted map[string][]string) []string {
	if len(restricted) == 0 {
		return values
	}
	var out []string
	byType := map[string][]string{}
	for _, v := range values {
		for _, q := range fhir.SplitTypeFilters(v) {
			typ, query := splitFilter(q)
			if _, ok := restricted[typ]; !ok {
				out = append(out, q)
				continue
			}
			byType[typ] = append(byType[typ], query)
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(restricted)) {
		for _, sq := range restricted[typ] {
			user := byType[typ]
			if len(user) == 0 {
				out = append(out, sq)
				continue
			}
			_, scopeQuery := splitFilter(sq)
			for _, uq := range user {
				out = append(out, typ+"?"+uq+"&"+scopeQuery)
			}
		}
	}
	return out
}

// splitFilter splits "Type?query" (or its URL-encoded form) into its parts.
func splitFilter(q string) (typ, query string) {
	q = strings.TrimSpace(q)
	if !strings.Contains(q, "?") {
		if dec, err := url.PathUnescape(q); err == nil {
			q = dec
		}
	}
	typ, query, _ = strings.Cut(q, "?")
	return typ, query
}

// since and until are validated against now; a bad value says what to send.
func instantParam(name, v string, now time.Time) (*time.Time, error) {
	// An unencoded '+' of a zone arrives as a space.
	t, err := fhir.ParseInstant(strings.ReplaceAll(v, " ", "+"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	t = t.UTC()
	if name == "_since" && t.After(now) {
		return nil, fmt.Errorf("_since %s is in the future", t.Format(time.RFC3339))
	}
	return &t, nil
}
