def nn: with_entries(select(.value != null));
def camel: gsub("_(?<c>[a-z0-9])"; .c | ascii_upcase);
({ "verification.created":          "submission.created",
   "verification.submitted":        "submission.completed",
   "verification.approved":         "submission.approved",
   "verification.rejected":         "submission.rejected",
   "verification.decision_updated": "submission.updated" } + ($opts.type_map // {})) as $names
| (.data // {}) as $d
| ($names[.type] // .type) as $event
| { event: $event,
    timestamp: .timestamp,
    data: (({ submissionId: .job.id } | nn)
           + ([ $d | to_entries[]
                | if .key == "workflow" and (.value | type) == "object" then
                    { key: "workflowId", value: .value.id },
                    (select(.value.name != null) | { key: "workflowName", value: .value.name })
                  elif .key == "match" and $event == "aml.match.found" and (.value | type) == "object" then
                    .value as $m
                    | ([ ["matchType", "type"], ["matchScore", "score"],
                         ["matchedName", "matched_name"], ["sourceList", "source_list"],
                         ["riskLevel", "risk_level"], ["countries", "countries"], ["matchId", "id"] ][]
                       | select($m[.[1]] != null) | { key: .[0], value: $m[.[1]] })
                  elif .key == "status" and ($event | startswith("submission.")) then
                    { key: "status", value: ($event | ltrimstr("submission.")) }
                  else .key |= camel end ] | from_entries)
           + ({ submissionId: .job.id } | nn)),
    tenantId: ($opts.tenant_id // .tenant_id) }
