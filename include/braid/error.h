/* Error codes shared by every braid module. Functions that can fail return 0 or a
 * positive count on success and one of these negative values on failure. */
#ifndef BRAID_ERROR_H
#define BRAID_ERROR_H

/* X(name, value, message): the single list that defines the enum and braid_strerror(). */
#define BRAID_ERRORS(X)                                                          \
	X(BRAID_OK, 0, "success")                                                    \
	X(BRAID_ERR_NOMEM, -1, "out of memory")                                      \
	X(BRAID_ERR_INVAL, -2, "invalid argument")                                   \
	X(BRAID_ERR_TRUNCATED, -3, "datagram shorter than its header says")          \
	X(BRAID_ERR_VERSION, -4, "unsupported protocol version")                     \
	X(BRAID_ERR_TYPE, -5, "unknown packet type")                                 \
	X(BRAID_ERR_TOO_BIG, -6, "datagram or payload too large")                    \
	X(BRAID_ERR_AUTH, -7, "authentication failed")                               \
	X(BRAID_ERR_SESSION, -8, "unknown session")                                  \
	X(BRAID_ERR_LINK, -9, "unknown link")                                        \
	X(BRAID_ERR_FULL, -10, "no room left")                                       \
	X(BRAID_ERR_EXISTS, -11, "already exists")                                   \
	X(BRAID_ERR_MALFORMED, -12, "malformed field")                               \
	X(BRAID_ERR_IO, -13, "input/output error")                                   \
	X(BRAID_ERR_AGAIN, -14, "nothing to do now")                                   \
	X(BRAID_ERR_BUFFER, -15, "buffer too small for the next datagram")           \
	X(BRAID_ERR_REPLAY, -16, "replayed or stale packet")

enum braid_error {
#define BRAID_ERROR_ENUM(name, value, message) name = value,
	BRAID_ERRORS(BRAID_ERROR_ENUM)
#undef BRAID_ERROR_ENUM
};

/* Returns a static, human-readable message for an error code. Never NULL. */
const char *braid_strerror(int code);

#endif
