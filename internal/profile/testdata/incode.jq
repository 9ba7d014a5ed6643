def nn: with_entries(select(.value != null));
def step_status: { "document": "ID_VALIDATION_FINISHED", "face_match": "FACE_VALIDATION_FINISHED",
  "government_database": "GOVERNMENT_VALIDATION_FINISHED", "post_processing": "POST_PROCESSING_FINISHED" };
(.data // {}) as $d
| if .type == "aml.monitoring.updated" then
    { interviewId: .job.id,
      ref:       ($d.ref // $d.reference // $d.screening_id),
      search_id: ($d.search_id // $d.screening_id) }
  else
    { interviewId: .job.id,
      externalId: ($d.externalId // ((.job.partner_params.externalId | strings) // null)),
      onboardingStatus: ($d.onboardingStatus //
        if   .type == "verification.step_completed" then (step_status[$d.step.name // ""] // "UNKNOWN")
        elif .type == "verification.completed"      then "ONBOARDING_FINISHED"
        elif .type == "verification.decision_updated" then
               (if $d.status == "approved" then "MANUAL_REVIEW_APPROVED" else "MANUAL_REVIEW_REJECTED" end)
        elif .type == "verification.approved" then
               (if $d.reviewed_by == "manual" then "MANUAL_REVIEW_APPROVED" else "ONBOARDING_FINISHED" end)
        elif .type == "verification.rejected" then
               (if $d.reviewed_by == "manual" then "MANUAL_REVIEW_REJECTED" else "ONBOARDING_FINISHED" end)
        else "UNKNOWN" end) }
  end
| nn
