// libpq, loaded on first use (dlopen of libpq.so.5) instead of linked: a
// daemon without a postgres section never maps libpq and what it pulls in
// (Kerberos, LDAP, GnuTLS, ...: about 3 MiB of resident memory and a few ms
// of start-up relocation). libpq-fe.h still gives the types and signatures,
// so every call is checked by the compiler as if linked.
#pragma once

#include <libpq-fe.h>

namespace healthsweep::clients::postgres {

#define HS_LIBPQ_FUNCTIONS(X)                                                                   \
  X(PQconnectStartParams) X(PQconnectPoll) X(PQstatus) X(PQsocket) X(PQsetnonblocking)           \
  X(PQsetNoticeProcessor) X(PQerrorMessage) X(PQfinish) X(PQflush) X(PQisBusy)                   \
  X(PQconsumeInput) X(PQgetResult) X(PQresultStatus) X(PQresultErrorMessage) X(PQntuples)        \
  X(PQnfields) X(PQgetvalue) X(PQgetisnull) X(PQclear) X(PQsendQuery) X(PQsendQueryParams)        \
  X(PQconninfoParse) X(PQconninfoFree) X(PQfreemem)                                             \
  /* healthsweepctl's blocking connection (ctl/event_store.cpp): */                            \
  X(PQconnectdbParams) X(PQexec) X(PQexecParams) X(PQnotifies)

struct LibPq {
// `name` is an identifier (::name, a member's name), where parentheses would not compile.
#define HS_LIBPQ_POINTER(name) decltype(&::name) name = nullptr;  // NOLINT(bugprone-macro-parentheses)
  HS_LIBPQ_FUNCTIONS(HS_LIBPQ_POINTER)
#undef HS_LIBPQ_POINTER
};

// The loaded library (once per process). Throws std::runtime_error, naming
// the package to install, when libpq.so.5 or one of its functions is missing.
const LibPq& libpq();

}  // namespace healthsweep::clients::postgres
