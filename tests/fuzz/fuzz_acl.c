/*
 * fuzz_acl -- libFuzzer target for the authorizer's two readers
 * (collector/security/acl.c): the single collector's .acls file, and the
 * ZooKeeper znodes of a cluster.
 *
 * Input: the bytes become the .acls file of a temporary log directory,
 * which tr_acl_open reads (most inputs are refused with "FILE:LINE:
 * reason"); the same bytes are then served as the data of every znode a
 * reload asks for, through a tr_acl_remote over memory, which walks the
 * Kafka JSON of /kafka-acl and /kafka-acl-extended. Whatever loads is then
 * listed and checked against a few requests; what the cluster's reader
 * loaded is also changed once (an add and a delete by filter), which
 * writes the znodes back.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "alloc.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/tr-fuzz-acl-XXXXXX";

/* The input, served as every znode; one child per directory. */
struct mem {
    const uint8_t *data;
    size_t size;
};

static tr_err_t
mem_get(void *arg, const char *path, char **data, size_t *len, int32_t *version)
{
    struct mem *m = arg;

    (void)path;
    *data = malloc(m->size + 1);
    if (*data == NULL) {
        return TR_ERR_NOMEM;
    }
    memcpy(*data, m->data, m->size);
    (*data)[m->size] = '\0';
    *len = m->size;
    *version = 0;
    return TR_OK;
}

static tr_err_t
mem_put(void *arg, const char *path, const char *data, size_t len,
        int32_t version)
{
    (void)arg;
    (void)path;
    (void)data;
    (void)len;
    (void)version;
    return TR_OK;
}

static tr_err_t
mem_children(void *arg, const char *path, int watch, char ***names, int *count)
{
    (void)arg;
    (void)path;
    (void)watch;
    *names = malloc(sizeof(**names));
    if (*names == NULL) {
        return TR_ERR_NOMEM;
    }
    (*names)[0] = strdup("logs");
    *count = (*names)[0] != NULL;
    return TR_OK;
}

static void
mem_free_children(char **names, int count)
{
    int i;

    for (i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
}

static tr_err_t
mem_notify(void *arg, const char *prefix, const char *data)
{
    (void)arg;
    (void)prefix;
    (void)data;
    return TR_OK;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    tr_log_init(TR_LOG_ERROR, 2);
    return mkdtemp(dir) == NULL ? -1 : 0;
}

/*
 * Lists and checks what was loaded and, if 'change', changes it once. The
 * file's reader is not asked to change: a change rewrites the file with
 * two fsyncs, which would cost most of each execution; the cluster's
 * reader writes its changes through the same formatter to memory.
 */
static void
exercise(struct tr_acl *acl, int change)
{
    struct tr_acl_binding any = {
        TR_ACL_RES_ANY, TR_ACL_PAT_ANY, TR_ACL_OP_ANY, TR_ACL_PERM_ANY,
        NULL,           NULL,           NULL
    };
    struct tr_acl_binding add = { TR_ACL_TOPIC,
                                  TR_ACL_PAT_PREFIXED,
                                  TR_ACL_OP_WRITE,
                                  TR_ACL_PERM_ALLOW,
                                  "lo",
                                  "User:b",
                                  "*" };
    struct tr_acl_binding match = { TR_ACL_TOPIC,  TR_ACL_PAT_MATCH,
                                    TR_ACL_OP_ANY, TR_ACL_PERM_ANY,
                                    "logs",        NULL,
                                    NULL };
    struct tr_acl_binding *list = NULL, *deleted = NULL;
    size_t n = 0, ndeleted = 0;

    if (tr_acl_describe(acl, &any, &list, &n) == TR_OK) {
        tr_acl_bindings_free(list, n);
    }
    (void)tr_acl_authorize(acl, "User:a", "127.0.0.1", TR_ACL_OP_READ,
                           TR_ACL_TOPIC, "logs", 0);
    (void)tr_acl_authorize_any(acl, "User:a", "*", TR_ACL_OP_WRITE,
                               TR_ACL_TOPIC, 0);
    (void)tr_acl_authorized_ops(acl, "User:*", "::1", TR_ACL_GROUP, "logs");
    if (!change) {
        return;
    }
    (void)tr_acl_add(acl, &add, 1);
    if (tr_acl_delete(acl, &match, 1, &deleted, &ndeleted) == TR_OK) {
        tr_acl_bindings_free(deleted, ndeleted);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tr_acl_config cfg = { "kafka.security.authorizer.AclAuthorizer",
                                 "User:admin", 0, dir };
    struct mem m = { data, size };
    struct tr_acl_remote remote = { mem_get,           mem_put,    mem_children,
                                    mem_free_children, mem_notify, &m };
    struct tr_acl *acl = NULL;
    char path[64], errbuf[512];
    int fd;

    snprintf(path, sizeof(path), "%s" TR_ACL_FILE, dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        abort();
    }
    close(fd);
    if (tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf)) == TR_OK) {
        exercise(acl, 0);
        tr_acl_free(acl);
    }
    /* The cluster's reader: a fresh authorizer on an empty file. */
    unlink(path);
    if (tr_acl_open(&cfg, &acl, errbuf, sizeof(errbuf)) == TR_OK) {
        tr_acl_set_remote(acl, &remote);
        (void)tr_acl_reload(acl);
        exercise(acl, 1);
        tr_acl_free(acl);
    }
    return 0;
}
