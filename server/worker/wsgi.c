/* _wsgikit: PEP 3333 objects and the per-request call. See wsgi.h. */
#include "wsgi.h"
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

wk_slot *wk_slots;

static PyObject *app;          /* the WSGI callable */
static PyObject *base_environ; /* copied per request */
static PyObject **env_keys;    /* interned, indexed like engine.EnvKeys */
static int n_env_keys;
static PyObject *str_close, *str_read, *str_fileno;
static PyObject *key_input, *key_method, *key_uri, *key_proto;
static PyObject *format_exception; /* traceback.format_exception */
static PyObject *format_stack;     /* traceback.format_stack */
static void enter_python(void);
static int slot_objects(int slot);

/* ---------- small buffers ---------- */

static int buf_reserve(char **b, Py_ssize_t *cap, Py_ssize_t need) {
	if (need <= *cap) return 0;
	Py_ssize_t nc = *cap ? *cap : 256;
	while (nc < need) nc *= 2;
	char *nb = PyMem_RawRealloc(*b, nc);
	if (!nb) { PyErr_NoMemory(); return -1; }
	*b = nb; *cap = nc;
	return 0;
}

static int buf_append(char **b, Py_ssize_t *len, Py_ssize_t *cap, const char *p, Py_ssize_t n) {
	if (buf_reserve(b, cap, *len + n) < 0) return -1;
	memcpy(*b + *len, p, n);
	*len += n;
	return 0;
}

/* ---------- start_response and write ---------- */

typedef struct {
	PyObject_HEAD
	int slot;
	unsigned long gen;
	PyObject *write; /* Writer */
} StartResponse;

typedef struct {
	PyObject_HEAD
	int slot;
	unsigned long gen;
} Writer;

static PyTypeObject StartResponseType, WriterType, InputType, FileWrapperType;

static int stale(int slot, unsigned long gen, const char *what) {
	if (wk_slots[slot].gen != gen || wk_slots[slot].environ == NULL) {
		PyErr_Format(PyExc_RuntimeError, "%s used after its request ended", what);
		return 1;
	}
	return 0;
}

/* latin1 returns the bytes of a str whose characters all fit in latin-1
 * (PEP 3333 "native strings"), or sets an error. */
static const char *latin1(PyObject *s, Py_ssize_t *n, const char *what) {
	if (!PyUnicode_Check(s)) {
		PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s (PEP 3333: native strings)", what, Py_TYPE(s)->tp_name);
		return NULL;
	}
	if (PyUnicode_READY(s) < 0) return NULL;
	if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
		PyErr_Format(PyExc_ValueError, "%s must be latin-1 encodable (PEP 3333): %R", what, s);
		return NULL;
	}
	*n = PyUnicode_GET_LENGTH(s);
	return (const char *)PyUnicode_1BYTE_DATA(s);
}

static int is_tchar(unsigned char c) {
	static const char *extra = "!#$%&'*+-.^_`|~";
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
	return c && strchr(extra, c) != NULL;
}

static int ieq(const char *a, Py_ssize_t n, const char *lower) {
	Py_ssize_t i;
	for (i = 0; i < n; i++) {
		char c = a[i];
		if (c >= 'A' && c <= 'Z') c += 32;
		if (!lower[i] || c != lower[i]) return 0;
	}
	return lower[n] == 0;
}

static const char *hop_by_hop[] = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
	"te", "trailer", "trailers", "transfer-encoding", "upgrade", "proxy-connection", NULL};

static int validate_status(wk_slot *s, PyObject *status) {
	Py_ssize_t n, i;
	const char *p = latin1(status, &n, "status");
	if (!p) return -1;
	if (n < 4 || p[3] != ' ' || p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9') {
		PyErr_Format(PyExc_ValueError, "status must be a 3-digit code, a space and a reason phrase, like '200 OK' (PEP 3333), not %R", status);
		return -1;
	}
	for (i = 4; i < n; i++) {
		unsigned char c = p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			PyErr_Format(PyExc_ValueError, "status contains a control character: %R", status);
			return -1;
		}
	}
	s->status_len = 0;
	if (buf_append(&s->status, &s->status_len, &s->status_cap, p, n) < 0) return -1;
	s->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	return 0;
}

static int validate_headers(wk_slot *s, PyObject *headers) {
	Py_ssize_t i, j, nn, vn;
	if (!PyList_Check(headers)) {
		PyErr_Format(PyExc_TypeError, "response_headers must be a list, not %.100s (PEP 3333)", Py_TYPE(headers)->tp_name);
		return -1;
	}
	s->hdr_len = 0;
	s->app_cl = -1;
	s->has_date = s->has_server = 0;
	for (i = 0; i < PyList_GET_SIZE(headers); i++) {
		PyObject *t = PyList_GET_ITEM(headers, i);
		if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) {
			PyErr_Format(PyExc_TypeError, "each response header must be a (name, value) tuple (PEP 3333), not %R", t);
			return -1;
		}
		const char *name = latin1(PyTuple_GET_ITEM(t, 0), &nn, "header name");
		if (!name) return -1;
		const char *val = latin1(PyTuple_GET_ITEM(t, 1), &vn, "header value");
		if (!val) return -1;
		if (nn == 0) {
			PyErr_SetString(PyExc_ValueError, "empty header name");
			return -1;
		}
		for (j = 0; j < nn; j++) {
			if (!is_tchar((unsigned char)name[j])) {
				PyErr_Format(PyExc_ValueError, "invalid character in header name %R (RFC 9110 token)", PyTuple_GET_ITEM(t, 0));
				return -1;
			}
		}
		for (j = 0; j < vn; j++) {
			unsigned char c = val[j];
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				PyErr_Format(PyExc_ValueError, "header %R has a control character (CR, LF or NUL) in its value", PyTuple_GET_ITEM(t, 0));
				return -1;
			}
		}
		const char **h;
		for (h = hop_by_hop; *h; h++) {
			if (ieq(name, nn, *h)) {
				PyErr_Format(PyExc_ValueError, "hop-by-hop header %R is not allowed from a WSGI application (PEP 3333)", PyTuple_GET_ITEM(t, 0));
				return -1;
			}
		}
		if (ieq(name, nn, "content-length")) {
			long long v = 0;
			if (vn == 0 || vn > 18) goto badcl;
			for (j = 0; j < vn; j++) {
				if (val[j] < '0' || val[j] > '9') goto badcl;
				v = v * 10 + (val[j] - '0');
			}
			if (s->app_cl >= 0 && s->app_cl != v) {
				PyErr_SetString(PyExc_ValueError, "two different Content-Length headers");
				return -1;
			}
			s->app_cl = v;
			continue; /* the server writes Content-Length itself */
		badcl:
			PyErr_Format(PyExc_ValueError, "invalid Content-Length %R", PyTuple_GET_ITEM(t, 1));
			return -1;
		}
		if (ieq(name, nn, "date")) s->has_date = 1;
		if (ieq(name, nn, "server")) s->has_server = 1;
		if (buf_reserve(&s->hdr, &s->hdr_cap, s->hdr_len + nn + vn + 4) < 0) return -1;
		memcpy(s->hdr + s->hdr_len, name, nn); s->hdr_len += nn;
		s->hdr[s->hdr_len++] = ':'; s->hdr[s->hdr_len++] = ' ';
		memcpy(s->hdr + s->hdr_len, val, vn); s->hdr_len += vn;
		s->hdr[s->hdr_len++] = '\r'; s->hdr[s->hdr_len++] = '\n';
	}
	return 0;
}

static PyObject *start_response_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
	StartResponse *sr = (StartResponse *)self;
	Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
	PyObject *status, *headers, *exc_info = Py_None;
	if (stale(sr->slot, sr->gen, "start_response")) return NULL;
	wk_slot *s = &wk_slots[sr->slot];
	Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
	if (nargs + nkw < 2 || nargs + nkw > 3) {
		PyErr_SetString(PyExc_TypeError, "start_response(status, response_headers, exc_info=None)");
		return NULL;
	}
	PyObject *a[3] = {NULL, NULL, Py_None};
	Py_ssize_t i;
	for (i = 0; i < nargs; i++) a[i] = args[i];
	for (i = 0; i < nkw; i++) {
		PyObject *k = PyTuple_GET_ITEM(kwnames, i);
		int idx = PyUnicode_CompareWithASCIIString(k, "status") == 0 ? 0
			: PyUnicode_CompareWithASCIIString(k, "response_headers") == 0 || PyUnicode_CompareWithASCIIString(k, "headers") == 0 ? 1
			: PyUnicode_CompareWithASCIIString(k, "exc_info") == 0 ? 2 : -1;
		if (idx < 0 || (idx < nargs)) {
			PyErr_Format(PyExc_TypeError, "start_response() got an unexpected keyword argument %R", k);
			return NULL;
		}
		a[idx] = args[nargs + i];
	}
	if (!a[0] || !a[1]) {
		PyErr_SetString(PyExc_TypeError, "start_response(status, response_headers, exc_info=None)");
		return NULL;
	}
	status = a[0]; headers = a[1]; exc_info = a[2];
	if (exc_info != Py_None) {
		if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
			PyErr_SetString(PyExc_TypeError, "exc_info must be a sys.exc_info() tuple");
			return NULL;
		}
		if (s->head_sent) {
			/* PEP 3333: headers already went out, so re-raise the original. */
			PyObject *t = PyTuple_GET_ITEM(exc_info, 0), *v = PyTuple_GET_ITEM(exc_info, 1), *tb = PyTuple_GET_ITEM(exc_info, 2);
			Py_INCREF(t); Py_INCREF(v); Py_INCREF(tb);
			PyErr_Restore(t, v, tb == Py_None ? (Py_DECREF(tb), NULL) : tb);
			return NULL;
		}
	} else if (s->sr_called) {
		PyErr_SetString(PyExc_AssertionError, "start_response called a second time without exc_info (PEP 3333)");
		return NULL;
	}
	if (validate_status(s, status) < 0 || validate_headers(s, headers) < 0) {
		s->sr_called = 0; /* the app may retry with valid arguments */
		return NULL;
	}
	s->sr_called = 1;
	Py_INCREF(sr->write);
	return sr->write;
}

/* send hands one non-empty block to Go with the GIL released. */
static int send_block(int slot, const char *p, Py_ssize_t n, long long total) {
	wk_slot *s = &wk_slots[slot];
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = wkSend(slot, (void *)p, (size_t)n, total);
	Py_END_ALLOW_THREADS
	s->head_sent = 1;
	return rc;
}

static PyObject *writer_call(PyObject *self, PyObject *args, PyObject *kw) {
	Writer *w = (Writer *)self;
	PyObject *data;
	if (stale(w->slot, w->gen, "write()")) return NULL;
	if (!PyArg_ParseTuple(args, "O:write", &data)) return NULL;
	wk_slot *s = &wk_slots[w->slot];
	if (!PyBytes_Check(data)) {
		PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.100s (PEP 3333)", Py_TYPE(data)->tp_name);
		return NULL;
	}
	if (!s->sr_called) {
		PyErr_SetString(PyExc_AssertionError, "write() called before start_response (PEP 3333)");
		return NULL;
	}
	s->used_write = 1;
	if (PyBytes_GET_SIZE(data) == 0) Py_RETURN_NONE;
	if (s->stop == WK_STREAMED) {
		PyErr_Format(PyExc_ValueError, "write() past the Content-Length (%lld bytes) the application set (PEP 3333)", s->app_cl);
		return NULL;
	}
	if (s->stop) Py_RETURN_NONE;
	Py_INCREF(data);
	int rc = send_block(w->slot, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), -1);
	Py_DECREF(data);
	if (rc == 1) {
		s->stop = WK_GONE;
		PyErr_SetString(PyExc_OSError, "client disconnected");
		return NULL;
	}
	if (rc == 2) {
		/* PEP 3333: raise when the application writes past its Content-Length. */
		s->stop = WK_STREAMED;
		PyErr_Format(PyExc_ValueError, "write() past the Content-Length (%lld bytes) the application set (PEP 3333)", s->app_cl);
		return NULL;
	}
	Py_RETURN_NONE;
}

/* ---------- wsgi.input ---------- */

typedef struct {
	PyObject_HEAD
	int slot;
	unsigned long gen;
} Input;

static int input_ok(Input *in) { return !stale(in->slot, in->gen, "wsgi.input"); }

static long long go_read(int slot, char *p, Py_ssize_t n, int line) {
	long long r;
	Py_BEGIN_ALLOW_THREADS
	r = wkRead(slot, p, (size_t)n, line);
	Py_END_ALLOW_THREADS
	if (r < 0) PyErr_SetString(PyExc_OSError, "wsgikit: the request body could not be read (client gone, timeout or bad framing)");
	return r;
}

/* read_into reads up to limit bytes (limit < 0: to EOF), stopping after a
 * newline when line is set. */
static PyObject *read_into(Input *in, Py_ssize_t limit, int line) {
	Py_ssize_t cap = limit >= 0 ? limit : 8192, len = 0;
	if (limit >= 0 && cap > (1 << 20)) cap = 1 << 20; /* grow as bytes arrive, not as asked */
	PyObject *b = PyBytes_FromStringAndSize(NULL, cap);
	if (!b) return NULL;
	for (;;) {
		if (limit >= 0 && len >= limit) break;
		if (len == cap) {
			Py_ssize_t nc = cap ? cap * 2 : 8192;
			if (limit >= 0 && nc > limit) nc = limit;
			if (_PyBytes_Resize(&b, nc) < 0) return NULL;
			cap = nc;
		}
		long long r = go_read(in->slot, PyBytes_AS_STRING(b) + len, cap - len, line);
		if (r < 0) { Py_DECREF(b); return NULL; }
		if (r == 0) break;
		len += r;
		if (line && PyBytes_AS_STRING(b)[len - 1] == '\n') break;
	}
	if (len != cap && _PyBytes_Resize(&b, len) < 0) return NULL;
	return b;
}

static int size_arg(PyObject *args, const char *fmt, Py_ssize_t *size) {
	PyObject *o = Py_None;
	if (!PyArg_ParseTuple(args, fmt, &o)) return -1;
	*size = -1;
	if (o == Py_None) return 0;
	*size = PyNumber_AsSsize_t(o, PyExc_OverflowError);
	if (*size == -1 && PyErr_Occurred()) return -1;
	return 0;
}

static PyObject *input_read(Input *in, PyObject *args) {
	Py_ssize_t size;
	if (!input_ok(in) || size_arg(args, "|O:read", &size) < 0) return NULL;
	return read_into(in, size, 0);
}

static PyObject *input_readline(Input *in, PyObject *args) {
	Py_ssize_t size;
	if (!input_ok(in) || size_arg(args, "|O:readline", &size) < 0) return NULL;
	return read_into(in, size, 1);
}

static PyObject *input_readlines(Input *in, PyObject *args) {
	Py_ssize_t hint, total = 0;
	if (!input_ok(in) || size_arg(args, "|O:readlines", &hint) < 0) return NULL;
	PyObject *list = PyList_New(0);
	if (!list) return NULL;
	for (;;) {
		PyObject *l = read_into(in, -1, 1);
		if (!l) { Py_DECREF(list); return NULL; }
		if (PyBytes_GET_SIZE(l) == 0) { Py_DECREF(l); break; }
		total += PyBytes_GET_SIZE(l);
		int rc = PyList_Append(list, l);
		Py_DECREF(l);
		if (rc < 0) { Py_DECREF(list); return NULL; }
		if (hint > 0 && total >= hint) break;
	}
	return list;
}

static PyObject *input_iter(PyObject *self) { Py_INCREF(self); return self; }

static PyObject *input_next(PyObject *self) {
	Input *in = (Input *)self;
	if (!input_ok(in)) return NULL;
	PyObject *l = read_into(in, -1, 1);
	if (l && PyBytes_GET_SIZE(l) == 0) { Py_DECREF(l); return NULL; } /* StopIteration */
	return l;
}

static PyMethodDef input_methods[] = {
	{"read", (PyCFunction)input_read, METH_VARARGS, "read([size]) -> bytes"},
	{"readline", (PyCFunction)input_readline, METH_VARARGS, "readline([size]) -> bytes"},
	{"readlines", (PyCFunction)input_readlines, METH_VARARGS, "readlines([hint]) -> list of bytes"},
	{NULL}
};

/* ---------- wsgi.file_wrapper ---------- */

typedef struct {
	PyObject_HEAD
	PyObject *filelike;
	Py_ssize_t blksize;
} FileWrapper;

static PyObject *fw_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
	static char *kwlist[] = {"filelike", "block_size", NULL};
	PyObject *f;
	Py_ssize_t blk = 8192;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:file_wrapper", kwlist, &f, &blk)) return NULL;
	FileWrapper *fw = (FileWrapper *)type->tp_alloc(type, 0);
	if (!fw) return NULL;
	Py_INCREF(f);
	fw->filelike = f;
	fw->blksize = blk > 0 ? blk : 8192;
	return (PyObject *)fw;
}

static void fw_dealloc(FileWrapper *fw) {
	Py_XDECREF(fw->filelike);
	Py_TYPE(fw)->tp_free((PyObject *)fw);
}

static PyObject *fw_iter(PyObject *self) { Py_INCREF(self); return self; }

static PyObject *fw_next(FileWrapper *fw) {
	PyObject *b = PyObject_CallMethod(fw->filelike, "read", "n", fw->blksize);
	if (!b) return NULL;
	if (PyBytes_Check(b) && PyBytes_GET_SIZE(b) == 0) { Py_DECREF(b); return NULL; }
	return b;
}

static PyObject *fw_close(FileWrapper *fw, PyObject *unused) {
	if (PyObject_HasAttr(fw->filelike, str_close))
		return PyObject_CallMethodNoArgs(fw->filelike, str_close);
	Py_RETURN_NONE;
}

static PyMethodDef fw_methods[] = {
	{"close", (PyCFunction)fw_close, METH_NOARGS, "close the wrapped file"},
	{NULL}
};

/* ---------- types ---------- */

static void plain_dealloc(PyObject *o) { Py_TYPE(o)->tp_free(o); }

static void sr_dealloc(StartResponse *sr) {
	Py_XDECREF(sr->write);
	Py_TYPE(sr)->tp_free((PyObject *)sr);
}

static PyTypeObject StartResponseType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "_wsgikit.StartResponse",
	.tp_basicsize = sizeof(StartResponse),
	.tp_dealloc = (destructor)sr_dealloc,
	.tp_call = PyVectorcall_Call,
	.tp_vectorcall_offset = 0, /* set at init */
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
	.tp_doc = "start_response(status, response_headers, exc_info=None)",
};

typedef struct {
	StartResponse base;
	vectorcallfunc vc;
} StartResponseVC;

static PyTypeObject WriterType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "_wsgikit.Writer",
	.tp_basicsize = sizeof(Writer),
	.tp_dealloc = plain_dealloc,
	.tp_call = writer_call,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "write(data): the PEP 3333 write() callable",
};

static PyTypeObject InputType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "_wsgikit.Input",
	.tp_basicsize = sizeof(Input),
	.tp_dealloc = plain_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_iter = input_iter,
	.tp_iternext = input_next,
	.tp_methods = input_methods,
	.tp_doc = "wsgi.input: the request body, de-chunked, EOF at its end",
};

static PyTypeObject FileWrapperType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "_wsgikit.FileWrapper",
	.tp_basicsize = sizeof(FileWrapper),
	.tp_dealloc = (destructor)fw_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_iter = fw_iter,
	.tp_iternext = (iternextfunc)fw_next,
	.tp_methods = fw_methods,
	.tp_new = fw_new,
	.tp_doc = "wsgi.file_wrapper(filelike, block_size=8192)",
};

static PyObject *new_start_response(int slot) {
	StartResponseVC *sr = PyObject_New(StartResponseVC, &StartResponseType);
	if (!sr) return NULL;
	sr->vc = start_response_call;
	sr->base.slot = slot;
	sr->base.gen = 0;
	Writer *w = PyObject_New(Writer, &WriterType);
	if (!w) { Py_DECREF(sr); return NULL; }
	w->slot = slot;
	sr->base.write = (PyObject *)w;
	return (PyObject *)sr;
}

static PyObject *new_input(int slot) {
	Input *in = PyObject_New(Input, &InputType);
	if (in) in->slot = slot;
	return (PyObject *)in;
}

/* ---------- the request ---------- */

/* log_error prints the request line and the traceback of the current error
 * to sys.stderr (PyErr_Print is never used: it exits on SystemExit). app is
 * set for the application's own exceptions, which Go logs as the client's
 * error when its request body had failed. */
static void log_error(wk_slot *s, int app, const char *why) {
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	PyErr_NormalizeException(&t, &v, &tb);
	if (tb && v) PyException_SetTraceback(v, tb);
	PyObject *m = s->environ ? PyDict_GetItem(s->environ, key_method) : NULL;
	PyObject *u = s->environ ? PyDict_GetItem(s->environ, key_uri) : NULL;
	PyObject *p = s->environ ? PyDict_GetItem(s->environ, key_proto) : NULL;
	PyObject *line = NULL, *text = NULL;
	if (m && u && p && PyUnicode_Check(m) && PyUnicode_Check(u) && PyUnicode_Check(p))
		line = PyUnicode_FromFormat("%U %U %U", m, u, p);
	if (t && format_exception) {
		PyObject *lines = PyObject_CallFunctionObjArgs(format_exception, t, v ? v : Py_None, tb ? tb : Py_None, NULL);
		if (lines) {
			PyObject *empty = PyUnicode_FromString("");
			if (empty) {
				text = PyUnicode_Join(empty, lines);
				Py_DECREF(empty);
			}
			Py_DECREF(lines);
		}
	}
	PyErr_Clear();
	const char *ls = line ? PyUnicode_AsUTF8(line) : NULL;
	const char *ts = text ? PyUnicode_AsUTF8(text) : NULL;
	PyErr_Clear();
	/* Go's logger writes it: one format (text or JSON) for every log line. */
	wkLogError((int)(s - wk_slots), app, (char *)why, (char *)(ls ? ls : ""), (char *)(ts ? ts : ""));
	Py_XDECREF(line); Py_XDECREF(text);
	Py_XDECREF(t); Py_XDECREF(v); Py_XDECREF(tb);
}

/* env_values holds, per known key, the last value made for it: most
 * requests repeat SERVER_NAME, REMOTE_ADDR, HTTP_HOST, HTTP_USER_AGENT …, and
 * str is immutable, so an equal value is shared instead of decoded again.
 * Only touched with the GIL held. */
static PyObject **env_values;

static PyObject *env_value(const wk_env_entry *e, const char *buf) {
	const char *p = buf + e->voff;
	if (e->key >= 0 && e->key < n_env_keys && e->vlen <= 256) {
		PyObject *c = env_values[e->key];
		if (c && PyUnicode_GET_LENGTH(c) == e->vlen && PyUnicode_KIND(c) == PyUnicode_1BYTE_KIND &&
		    memcmp(PyUnicode_1BYTE_DATA(c), p, e->vlen) == 0) {
			Py_INCREF(c);
			return c;
		}
		PyObject *v = PyUnicode_DecodeLatin1(p, e->vlen, NULL);
		if (v) {
			Py_INCREF(v);
			Py_XSETREF(env_values[e->key], v);
		}
		return v;
	}
	return PyUnicode_DecodeLatin1(p, e->vlen, NULL);
}

static PyObject *build_environ(wk_slot *s, const char *buf, const wk_env_entry *ents, int nents) {
	/* Sized for everything up front (and a few keys the app adds): a copy of
	 * base_environ would be resized twice while the request's keys go in. */
	PyObject *env = _PyDict_NewPresized(PyDict_GET_SIZE(base_environ) + nents + 5);
	PyObject *bk, *bv;
	Py_ssize_t pos = 0;
	int i;
	if (!env) return NULL;
	while (PyDict_Next(base_environ, &pos, &bk, &bv)) {
		if (PyDict_SetItem(env, bk, bv) < 0) goto fail;
	}
	for (i = 0; i < nents; i++) {
		const wk_env_entry *e = &ents[i];
		PyObject *k, *v;
		if (e->key >= 0 && e->key < n_env_keys) {
			k = env_keys[e->key];
			Py_INCREF(k);
		} else {
			k = PyUnicode_DecodeLatin1(buf + e->koff, e->klen, NULL);
			if (!k) goto fail;
		}
		v = env_value(e, buf);
		if (!v) { Py_DECREF(k); goto fail; }
		int rc = PyDict_SetItem(env, k, v);
		Py_DECREF(k); Py_DECREF(v);
		if (rc < 0) goto fail;
	}
	if (PyDict_SetItem(env, key_input, s->input) < 0) goto fail;
	return env;
fail:
	Py_DECREF(env);
	return NULL;
}

/* call_close calls result.close() if it has one: exactly once per request. */
static int call_close(wk_slot *s, PyObject *result) {
	if (!result || !PyObject_HasAttr(result, str_close)) return 0;
	PyObject *r = PyObject_CallMethodNoArgs(result, str_close);
	if (!r) {
		log_error(s, 0, "exception in the iterable's close()");
		return -1;
	}
	Py_DECREF(r);
	return 0;
}

/* collect_list joins a list or tuple of bytes (checked by the caller) of
 * total length into the slot's output buffer. */
static int collect_list(wk_slot *s, PyObject *seq, Py_ssize_t total) {
	Py_ssize_t i, n = PySequence_Fast_GET_SIZE(seq);
	PyObject **items = PySequence_Fast_ITEMS(seq);
	s->out_len = 0;
	if (buf_reserve(&s->out, &s->out_cap, total) < 0) return -1;
	for (i = 0; i < n; i++) {
		memcpy(s->out + s->out_len, PyBytes_AS_STRING(items[i]), PyBytes_GET_SIZE(items[i]));
		s->out_len += PyBytes_GET_SIZE(items[i]);
	}
	return 0;
}

/* Lists and tuples up to this size are copied and sent in one write after
 * the GIL is released; bigger ones go out block by block. */
#define WK_COPY_MAX (256 * 1024)

/* try_sendfile sends a wsgi.file_wrapper over a regular file with
 * sendfile(2) from Go: no block passes through Python. It returns -1 when the
 * wrapped object is not such a file (then it is iterated like any iterable). */
static int try_sendfile(wk_slot *s, int slot, PyObject *result) {
	FileWrapper *fw = (FileWrapper *)result;
	PyObject *o = PyObject_CallMethodNoArgs(fw->filelike, str_fileno);
	if (!o) { PyErr_Clear(); return -1; }
	long fd = PyLong_AsLong(o);
	Py_DECREF(o);
	struct stat st;
	if (fd < 0 || PyErr_Occurred() || fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode)) { PyErr_Clear(); return -1; }
	long long off = -1;
	o = PyObject_CallMethod(fw->filelike, "tell", NULL); /* honours Python-side buffering */
	if (o) { off = PyLong_AsLongLong(o); Py_DECREF(o); }
	if (off < 0) { PyErr_Clear(); off = lseek((int)fd, 0, SEEK_CUR); }
	if (off < 0) return -1;
	if (!s->sr_called) {
		PyErr_SetString(PyExc_AssertionError, "the application returned without calling start_response (PEP 3333)");
		return WK_ERROR;
	}
	long long n = (long long)st.st_size - off;
	if (n < 0) n = 0;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = wkSendFile(slot, (int)fd, off, n);
	Py_END_ALLOW_THREADS
	s->head_sent = 1;
	return rc == 1 ? WK_GONE : WK_STREAMED;
}

static int iterate(wk_slot *s, int slot, PyObject *result) {
	if (Py_TYPE(result) == &FileWrapperType && !s->head_sent) {
		int kind = try_sendfile(s, slot, result);
		if (kind >= 0) return kind;
	}
	/* Fast path: a list or tuple is already complete, nothing to wait for. */
	if ((PyList_CheckExact(result) || PyTuple_CheckExact(result)) && !s->head_sent) {
		Py_ssize_t i, n = PySequence_Fast_GET_SIZE(result), total = 0;
		PyObject **items = PySequence_Fast_ITEMS(result);
		for (i = 0; i < n; i++) {
			if (!PyBytes_Check(items[i])) {
				PyErr_Format(PyExc_TypeError, "the application must yield bytes, not %.100s (PEP 3333)", Py_TYPE(items[i])->tp_name);
				return WK_ERROR;
			}
			total += PyBytes_GET_SIZE(items[i]);
		}
		if (total > 0 && !s->sr_called) goto nosr;
		if (total <= WK_COPY_MAX) {
			if (collect_list(s, result, total) < 0) return WK_ERROR;
			if (!s->sr_called) goto nosr;
			return WK_COMPLETE;
		}
		for (i = 0; i < n && !s->stop; i++) {
			Py_ssize_t bn = PyBytes_GET_SIZE(items[i]);
			if (bn == 0) continue;
			int rc = send_block(slot, PyBytes_AS_STRING(items[i]), bn, s->head_sent ? -1 : total);
			if (rc == 1) return WK_GONE;
			if (rc == 2) break;
		}
		return WK_STREAMED;
	}
	PyObject *it = PyObject_GetIter(result);
	if (!it) return WK_ERROR;
	PyObject *item;
	while (!s->stop && (item = PyIter_Next(it)) != NULL) {
		if (!PyBytes_Check(item)) {
			PyErr_Format(PyExc_TypeError, "the application must yield bytes, not %.100s (PEP 3333)", Py_TYPE(item)->tp_name);
			Py_DECREF(item);
			Py_DECREF(it);
			return WK_ERROR;
		}
		Py_ssize_t bn = PyBytes_GET_SIZE(item);
		if (bn == 0) { Py_DECREF(item); continue; } /* headers wait for a non-empty block */
		if (!s->sr_called) { Py_DECREF(item); Py_DECREF(it); goto nosr; }
		int rc = send_block(slot, PyBytes_AS_STRING(item), bn, -1);
		Py_DECREF(item);
		if (rc == 1) { Py_DECREF(it); return WK_GONE; }
		if (rc == 2) break; /* Content-Length reached: stop iterating */
	}
	Py_DECREF(it);
	if (PyErr_Occurred()) return WK_ERROR;
	if (s->stop == WK_GONE) return WK_GONE;
	if (!s->sr_called) goto nosr;
	if (!s->head_sent) { s->out_len = 0; return WK_COMPLETE; }
	return WK_STREAMED;
nosr:
	PyErr_SetString(PyExc_AssertionError, "the application returned without calling start_response (PEP 3333)");
	return WK_ERROR;
}

int wk_call(int slot, const char *buf, const wk_env_entry *ents, int nents) {
	wk_slot *s = &wk_slots[slot];
	int kind;
	enter_python();
	if (slot_objects(slot) < 0) {
		log_error(s, 0, "out of memory");
		PyEval_SaveThread();
		return WK_ERROR;
	}

	s->gen++;
	s->ident = PyThread_get_thread_ident();
	s->sr_called = s->head_sent = s->used_write = s->stop = 0;
	s->out_len = 0;
	s->app_cl = -1;
	((StartResponse *)s->start_response)->gen = s->gen;
	((Writer *)((StartResponse *)s->start_response)->write)->gen = s->gen;
	((Input *)s->input)->gen = s->gen;

	PyObject *result = NULL;
	s->environ = build_environ(s, buf, ents, nents);
	if (!s->environ) {
		log_error(s, 0, "could not build environ");
		kind = WK_ERROR;
		goto done;
	}
	PyObject *callargs[2] = {s->environ, s->start_response};
	result = PyObject_Vectorcall(app, callargs, 2, NULL);
	if (!result) {
		if (s->stop == WK_GONE) { PyErr_Clear(); kind = WK_GONE; goto done; }
		log_error(s, 1, "exception in the application");
		kind = WK_ERROR;
		goto done;
	}
	kind = iterate(s, slot, result);
	if (kind == WK_ERROR && s->stop == WK_GONE) { PyErr_Clear(); kind = WK_GONE; }
	if (kind == WK_ERROR) log_error(s, 1, "error while iterating the response");
	if (call_close(s, result) < 0 && kind != WK_GONE)
		kind = WK_ERROR; /* PEP 3333: an exception from close() is an application error */
done:
	if (kind == WK_COMPLETE && s->head_sent) kind = WK_STREAMED;
	Py_XDECREF(result);
	/* Objects the app kept past the request are replaced, not reused. */
	if (Py_REFCNT(s->start_response) > 1 || Py_REFCNT(((StartResponse *)s->start_response)->write) > 1) {
		PyObject *n = new_start_response(slot);
		if (n) { Py_DECREF(s->start_response); s->start_response = n; }
	}
	if (Py_REFCNT(s->input) > 1) {
		PyObject *n = new_input(slot);
		if (n) { Py_DECREF(s->input); s->input = n; }
	}
	Py_CLEAR(s->environ);
	if (PyErr_Occurred()) PyErr_Clear();
	PyEval_SaveThread();
	return kind;
}

/* wk_stack returns the Python stack of the thread running slot's request,
 * formatted like a traceback (malloc'd: the caller frees it), or NULL. It
 * takes the GIL, which a thread stuck in a sleep or in I/O has released and
 * one spinning in Python yields every switch interval. */
char *wk_stack(int slot) {
	PyGILState_STATE g = PyGILState_Ensure();
	char *out = NULL;
	PyObject *frames = NULL, *key = NULL, *lines = NULL, *text = NULL, *empty = NULL;
	PyObject *current = PySys_GetObject("_current_frames"); /* borrowed */
	if (!current || !(frames = PyObject_CallNoArgs(current))) goto done;
	if (!(key = PyLong_FromUnsignedLong(wk_slots[slot].ident))) goto done;
	PyObject *frame = PyDict_GetItemWithError(frames, key); /* borrowed */
	if (!frame) goto done;
	if (!(lines = PyObject_CallOneArg(format_stack, frame))) goto done;
	if (!(empty = PyUnicode_FromString("")) || !(text = PyUnicode_Join(empty, lines))) goto done;
	const char *u = PyUnicode_AsUTF8(text);
	if (u) out = strdup(u);
done:
	PyErr_Clear();
	Py_XDECREF(frames); Py_XDECREF(key); Py_XDECREF(lines); Py_XDECREF(text); Py_XDECREF(empty);
	PyGILState_Release(g);
	return out;
}

/* ---------- threads ---------- */

/* Each OS thread that runs requests keeps one Python thread state for the
 * life of the process, made by PyGILState_Ensure so that C extensions calling
 * PyGILState_Ensure on it find it (a second state would deadlock on the GIL).
 * It is never released: the thread is a Python thread from then on. */
static __thread PyThreadState *thread_ts __attribute__((tls_model("initial-exec")));

static void enter_python(void) {
	if (thread_ts) {
		PyEval_RestoreThread(thread_ts);
		return;
	}
	PyGILState_Ensure();
	thread_ts = PyThreadState_Get();
}

/* slot_objects makes a slot's reusable Python objects on first use. */
static int slot_objects(int slot) {
	wk_slot *s = &wk_slots[slot];
	if (s->start_response) return 0;
	s->start_response = new_start_response(slot);
	s->input = new_input(slot);
	return s->start_response && s->input ? 0 : -1;
}

/* ---------- module ---------- */

static int serving;

static PyObject *wk_serve(PyObject *self, PyObject *args, PyObject *kw) {
	static char *kwlist[] = {"app", "config", "threads", "multiprocess", "software", NULL};
	PyObject *application;
	int threads = 1, multiprocess = 0;
	const char *cfg, *software = "wsgikit";
	Py_ssize_t cfglen;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "Os#|ips:serve", kwlist, &application, &cfg, &cfglen, &threads, &multiprocess, &software))
		return NULL;
	if (!PyCallable_Check(application)) {
		PyErr_SetString(PyExc_TypeError, "app must be callable");
		return NULL;
	}
	if (serving) {
		PyErr_SetString(PyExc_RuntimeError, "_wsgikit.serve() runs once per process");
		return NULL;
	}
	if (threads < 1 || threads > 1024) {
		PyErr_SetString(PyExc_ValueError, "threads must be 1..1024");
		return NULL;
	}
	serving = 1;
	Py_INCREF(application);
	app = application;

	n_env_keys = wkEnvKeyCount();
	env_keys = PyMem_RawCalloc(n_env_keys, sizeof(PyObject *));
	env_values = PyMem_RawCalloc(n_env_keys, sizeof(PyObject *));
	if (!env_keys || !env_values) return PyErr_NoMemory();
	int i;
	for (i = 0; i < n_env_keys; i++) {
		char kb[64];
		int n = wkEnvKey(i, kb, sizeof kb);
		env_keys[i] = PyUnicode_InternFromString(n > 0 ? kb : "");
		if (!env_keys[i]) return NULL;
	}
	base_environ = PyDict_New();
	PyObject *sys_stderr = PySys_GetObject("stderr");
	PyObject *version = Py_BuildValue("(ii)", 1, 0);
	if (!base_environ || !version) return NULL;
#define SET(k, v) do { PyObject *_v = (v); if (!_v || PyDict_SetItemString(base_environ, k, _v) < 0) return NULL; Py_DECREF(_v); } while (0)
	SET("wsgi.version", version);
	SET("wsgi.url_scheme", PyUnicode_FromString("http"));
	SET("wsgi.multithread", PyBool_FromLong(threads > 1));
	SET("wsgi.multiprocess", PyBool_FromLong(multiprocess));
	SET("wsgi.run_once", PyBool_FromLong(0));
	SET("wsgi.input_terminated", PyBool_FromLong(1));
	SET("SERVER_SOFTWARE", PyUnicode_FromString(software));
	if (sys_stderr) { Py_INCREF(sys_stderr); SET("wsgi.errors", sys_stderr); }
	Py_INCREF(&FileWrapperType);
	SET("wsgi.file_wrapper", (PyObject *)&FileWrapperType);
#undef SET

	wk_slots = PyMem_RawCalloc(threads + wkSpareSlots(), sizeof(wk_slot)); /* the spare serves while a timed-out request keeps its thread */
	if (!wk_slots) return PyErr_NoMemory();

	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = wkServe((char *)cfg, (int)cfglen);
	Py_END_ALLOW_THREADS
	return PyLong_FromLong(rc);
}

static PyMethodDef module_methods[] = {
	{"serve", (PyCFunction)(void (*)(void))wk_serve, METH_VARARGS | METH_KEYWORDS,
	 "serve(app, config, threads=1, multiprocess=False, software='wsgikit') -> exit code\n"
	 "Run the Go HTTP/1.1 server on the listening sockets the config names until a stop signal."},
	{NULL}
};

static struct PyModuleDef moduledef = {
	PyModuleDef_HEAD_INIT, "_wsgikit", "wsgikit worker: a Go HTTP/1.1 server running WSGI apps", -1, module_methods,
};

PyMODINIT_FUNC PyInit__wsgikit(void) {
	StartResponseType.tp_basicsize = sizeof(StartResponseVC);
	StartResponseType.tp_vectorcall_offset = offsetof(StartResponseVC, vc);
	if (PyType_Ready(&StartResponseType) < 0 || PyType_Ready(&WriterType) < 0 ||
	    PyType_Ready(&InputType) < 0 || PyType_Ready(&FileWrapperType) < 0)
		return NULL;
	str_close = PyUnicode_InternFromString("close");
	str_read = PyUnicode_InternFromString("read");
	str_fileno = PyUnicode_InternFromString("fileno");
	key_input = PyUnicode_InternFromString("wsgi.input");
	key_method = PyUnicode_InternFromString("REQUEST_METHOD");
	key_uri = PyUnicode_InternFromString("RAW_URI");
	key_proto = PyUnicode_InternFromString("SERVER_PROTOCOL");
	PyObject *tbmod = PyImport_ImportModule("traceback");
	if (!tbmod) return NULL;
	format_exception = PyObject_GetAttrString(tbmod, "format_exception");
	format_stack = PyObject_GetAttrString(tbmod, "format_stack");
	Py_DECREF(tbmod);
	if (!format_exception || !format_stack) return NULL;
	PyObject *m = PyModule_Create(&moduledef);
	if (!m) return NULL;
	Py_INCREF(&FileWrapperType);
	PyModule_AddObject(m, "FileWrapper", (PyObject *)&FileWrapperType);
	return m;
}
