def nn: with_entries(select(.value != null));
{ "approved": "APPROVED", "rejected": "REJECTED", "review_required": "MANUAL_CHECK",
  "resubmission_requested": "ADDITIONAL_INFORMATION_REQUESTED" } as $results
| (.data // {}) as $d
| ( if .type == "message.otp.requested" and $d.channel == "sms" then
      { type: "one-time-password-request", text: $d.text, phoneNumber: $d.to }
    elif .type == "message.otp.requested" and $d.channel == "email" then
      { type: "email-one-time-password-request", address: $d.to, subject: $d.subject, content: $d.text } | nn
    elif .type == "message.link.requested" and $d.channel == "sms" then
      { type: "share-session-link-via-sms", text: $d.text, phoneNumber: $d.to,
        sessionLink: $d.link, createdBy: $d.requested_by } | nn
    elif .type == "message.link.requested" and $d.channel == "email" then
      { type: "share-session-link-via-email", address: $d.to, subject: $d.subject, content: $d.text,
        cc: (if ($d.cc | type) == "array" then (if ($d.cc | length) > 0 then $d.cc | join(",") else null end) else $d.cc end),
        sessionLink: $d.link, createdBy: $d.requested_by } | nn
    elif .type | IN("verification.approved", "verification.rejected", "verification.review_required",
                    "verification.resubmission_requested", "verification.decision_updated") then
      { type: "session-change", result: ($d.result // $results[$d.status]),
        sessionType: (if .job.kind == "kyb" then "kyb" else null end) } | nn
    elif .type == "media.video_call.updated" then
      { type: "video-call-status-update", roomId: $d.room_id, roomStatus: $d.status,
        compositionStatus: (if $d | has("compositionStatus") then $d.compositionStatus
                            elif $d.recording.status == "available" then "available" else null end),
        videoFileStatus: (if $d.recording.status == "available" then "available" else null end),
        videoFileId: $d.recording.file_id }
    else
      { type: .type } + $d
    end ) as $b
| ({ callbackApiKey: $opts.callback_api_key, type: $b.type, sessionId: (.job.id // $d.sessionId) } | nn)
  + ($b | del(.type, .callbackApiKey, .sessionId))
