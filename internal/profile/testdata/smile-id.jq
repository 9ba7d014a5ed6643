def nn: with_entries(select(.value != null));
(.data // {}) as $d
| ({ ResultCode: $d.decision.result_code,
     ResultText: $d.decision.result_text,
     IsFinalResult: (if .final then "true" else "false" end) } | nn)
  + ($d | with_entries(select(.key | test("^[A-Z]"))))
  + ({ SmileJobID: .job.id } | nn)
  + { PartnerParams: (.job.partner_params // {}) }
