// Early-return helpers for absl::Status; Abseil 20220623 ships none.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define AGENTD_STATUS_CONCAT_INNER(a, b) a##b
#define AGENTD_STATUS_CONCAT(a, b) AGENTD_STATUS_CONCAT_INNER(a, b)

#define AGENTD_RETURN_IF_ERROR(expr)              \
  do {                                            \
    ::absl::Status agentd_status_ = (expr);       \
    if (!agentd_status_.ok()) return agentd_status_; \
  } while (0)

#define AGENTD_ASSIGN_OR_RETURN(lhs, expr) \
  AGENTD_ASSIGN_OR_RETURN_IMPL(AGENTD_STATUS_CONCAT(agentd_statusor_, __LINE__), lhs, expr)

#define AGENTD_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()
