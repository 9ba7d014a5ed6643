def nn: with_entries(select(.value != null));
({ "verification.submitted":        "Finished User Steps",
   "verification.completed":        "Finished Journey",
   "verification.decision_updated": "Manually Reviewed",
   "aml.monitoring.updated":        "AML Monitor Update",
   "spot_check.completed":          "Finished Spot Check" } + ($opts.type_map // {})) as $names
| { "approved": "Complete", "rejected": "Rejected", "review_required": "Refer" } as $decisions
| (.data // {}) as $d
| ($decisions[$d.decision.result // ""]) as $dec
| ($d.reviewed_by == "manual") as $manual
| (if (.type | IN("verification.approved", "verification.rejected")) and $names[.type] == null
   then (if $manual then "Manually Reviewed" else "Finished Journey" end)
   else ($names[.type] // .type) end) as $event
| { event: $event,
    body: ( { eventId: .id,
              journeyId: .job.id,
              referenceNo: ($d.referenceNo // ((.job.partner_params.referenceNo | strings) // null)),
              systemDecision: ($d.systemDecision // (if $manual then null else $dec end)),
              manualDecision: ($d.manualDecision // (if $manual then $dec else null end)),
              finalDecision:  ($d.finalDecision  // (if $manual then $dec else null end)) }
            + ($d | with_entries(select(.key | IN("action", "previousSystemDecision", "updatedAMLVersionNumber"))))
            + (if $opts.include_partner_params == true and .job.partner_params != null
               then { partnerParams: .job.partner_params } else {} end)
            | nn ) }
