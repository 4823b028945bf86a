/* The C side of the _wsgikit extension: the Python objects of PEP 3333
 * (environ, start_response, write, wsgi.input, wsgi.file_wrapper) and the
 * one call per request that runs the application. Go owns sockets and
 * framing; C owns everything that touches Python objects. */
#ifndef WSGIKIT_WSGI_H
#define WSGIKIT_WSGI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* What wk_call returns: how Go must finish the response. */
enum {
	WK_COMPLETE = 0,  /* whole body in slot->out; nothing sent yet */
	WK_STREAMED = 1,  /* head and blocks already sent through wkSend; Go finishes framing */
	WK_ERROR = 2,     /* the application failed: 500 if nothing sent, else cut */
	WK_GONE = 3,      /* the client went away while sending */
};

/* Mirrors engine.EnvEntry: plain int32s. */
typedef struct {
	int32_t key, koff, klen, voff, vlen;
} wk_env_entry;

typedef struct {
	/* Response head as validated by start_response (C memory, read by Go). */
	char *status;            /* "200 OK" */
	Py_ssize_t status_len, status_cap;
	char *hdr;               /* "Name: value\r\n" lines */
	Py_ssize_t hdr_len, hdr_cap;
	int code;
	long long app_cl;        /* -1 when the app set no Content-Length */
	int has_date, has_server;

	/* Whole body for WK_COMPLETE. */
	char *out;
	Py_ssize_t out_len, out_cap;

	/* Per-request state. */
	int sr_called, head_sent, used_write, stop;
	unsigned long gen;       /* bumps per request: stale objects notice */
	unsigned long ident;     /* the Python thread running the request (wk_stack) */
	PyObject *environ;

	/* Python side, reused across requests. */
	PyObject *start_response; /* StartResponse */
	PyObject *input;          /* Input */
} wk_slot;

extern wk_slot *wk_slots;

int wk_call(int slot, const char *buf, const wk_env_entry *ents, int nents);
char *wk_stack(int slot);

/* Exported by Go (cgo //export). */
extern int wkSend(int slot, void *p, size_t n, long long total);
extern int wkSendFile(int slot, int fd, long long off, long long n);
extern long long wkRead(int slot, void *p, size_t n, int line);
extern int wkEnvKeyCount(void);
extern int wkEnvKey(int i, char *buf, int n);
extern int wkServe(char *cfg, int cfglen);
extern int wkSpareSlots(void);
extern void wkLogError(int slot, int app, char *why, char *line, char *tb);

#endif
