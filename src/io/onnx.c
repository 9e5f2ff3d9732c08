/* ONNX export (ae/onnx.h): the encoder and decoder as ONNX graphs, built as
 * protobuf-c messages of onnx.proto (compiled by protoc-c at build time) and
 * packed by protobuf-c.  This is the only file that knows protobuf-c.
 *
 * Every message, array and string of a graph lives in one arena freed at
 * the end; the parameter tensors point into the model's parameter block
 * (float_data is not copied; protobuf-c packs it little-endian).  A helper
 * given a NULL tensor name (an allocation failed earlier) returns NULL, so
 * the graph code reads straight through and the failure is seen once, at
 * the end. */
#include "ae/onnx.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ae/fileio.h"
#include "ae/likelihood.h"
#include "onnx.pb-c.h"

/* ------------------------------------------------------------ the arena */

typedef struct block {
    struct block *next;
    alignas(max_align_t) unsigned char data[];
} block;

/* Room for the biggest graph: per stack AE_MAX_LAYERS + 1 layers of two
 * nodes and two tensors, and the few dozen nodes around them. */
#define MAX_NODES (4 * (AE_MAX_LAYERS + 1) + 64)

typedef struct {
    block *blocks;
    bool failed;               /* an allocation failed */
    Onnx__GraphProto graph;
    Onnx__NodeProto *nodes[MAX_NODES];
    Onnx__TensorProto *inits[MAX_NODES];
    Onnx__ValueInfoProto *inputs[2], *outputs[2];
    unsigned next_name;
} builder;

static void *arena(builder *b, size_t size)
{
    block *k = b->failed ? NULL : calloc(1, sizeof(block) + size);
    if (!k) {
        b->failed = true;
        return NULL;
    }
    k->next = b->blocks;
    b->blocks = k;
    return k->data;
}

static void arena_free(builder *b)
{
    while (b->blocks) {
        block *k = b->blocks;
        b->blocks = k->next;
        free(k);
    }
}

static char *str(builder *b, const char *s)
{
    char *c = arena(b, strlen(s) + 1);
    return c ? strcpy(c, s) : NULL;
}

/* A fresh tensor name: "<hint>_<n>". */
static char *fresh(builder *b, const char *hint)
{
    char name[80];
    snprintf(name, sizeof name, "%s_%u", hint, b->next_name++);
    return str(b, name);
}

/* ------------------------------------------------------------ tensors */

/* A tensor of the graph's initializers (or, hint NULL, a nameless one for
 * an attribute). */
static Onnx__TensorProto *tensor(builder *b, const char *hint, const int64_t *dims,
                                 size_t ndims, int32_t type)
{
    Onnx__TensorProto *t = arena(b, sizeof *t);
    int64_t *d = arena(b, (ndims ? ndims : 1) * sizeof *d);
    char *name = hint ? fresh(b, hint) : NULL;
    if (!t || !d || (hint && !name) || b->graph.n_initializer == MAX_NODES) {
        b->failed = true;
        return NULL;
    }
    onnx__tensor_proto__init(t);
    if (ndims)
        memcpy(d, dims, ndims * sizeof *d);
    t->n_dims = ndims;
    t->dims = d;
    t->has_data_type = true;
    t->data_type = type;
    t->name = name;
    if (hint)
        b->graph.initializer[b->graph.n_initializer++] = t;
    return t;
}

/* A float initializer over data [prod(dims)], which must outlive the
 * packing (a view of the model's parameters, or arena memory). */
static const char *floats(builder *b, const char *hint, const float *data, const int64_t *dims,
                          size_t ndims)
{
    Onnx__TensorProto *t = tensor(b, hint, dims, ndims, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    if (!t)
        return NULL;
    size_t n = 1;
    for (size_t i = 0; i < ndims; i++)
        n *= (size_t)dims[i];
    t->n_float_data = n;
    t->float_data = (float *)data; /* protobuf-c only reads it */
    return t->name;
}

/* A float scalar (rank 0), broadcast against anything. */
static const char *scalar(builder *b, float v)
{
    float *p = arena(b, sizeof *p);
    if (!p)
        return NULL;
    *p = v;
    return floats(b, "c", p, NULL, 0);
}

/* A float vector [n] copied into the arena. */
static const char *vector(builder *b, const char *hint, const float *v, size_t n)
{
    float *p = arena(b, n * sizeof *p);
    if (!p)
        return NULL;
    memcpy(p, v, n * sizeof *p);
    int64_t d = (int64_t)n;
    return floats(b, hint, p, &d, 1);
}

/* An int64 vector [n]. */
static const char *ints(builder *b, const char *hint, const int64_t *v, size_t n)
{
    int64_t d = (int64_t)n;
    Onnx__TensorProto *t = tensor(b, hint, &d, 1, ONNX__TENSOR_PROTO__DATA_TYPE__INT64);
    int64_t *p = arena(b, n * sizeof *p);
    if (!t || !p)
        return NULL;
    memcpy(p, v, n * sizeof *p);
    t->n_int64_data = n;
    t->int64_data = p;
    return t->name;
}

/* -------------------------------------------------------------- nodes */

/* A node of type op on inputs in[0..n_in) (an empty string: an absent
 * optional input) with n_out fresh outputs; NULL when an input is NULL. */
static Onnx__NodeProto *node(builder *b, const char *op, size_t n_in, const char *const *in,
                             size_t n_out)
{
    for (size_t i = 0; i < n_in; i++)
        if (!in[i])
            return NULL;
    Onnx__NodeProto *nd = arena(b, sizeof *nd);
    char **ins = arena(b, n_in * sizeof *ins), **outs = arena(b, n_out * sizeof *outs);
    if (!nd || !ins || !outs || b->graph.n_node == MAX_NODES) {
        b->failed = true;
        return NULL;
    }
    onnx__node_proto__init(nd);
    for (size_t i = 0; i < n_in; i++)
        ins[i] = (char *)in[i];
    for (size_t i = 0; i < n_out; i++)
        if (!(outs[i] = fresh(b, op)))
            return NULL;
    nd->op_type = (char *)op;
    nd->name = outs[0];
    nd->n_input = n_in;
    nd->input = ins;
    nd->n_output = n_out;
    nd->output = outs;
    b->graph.node[b->graph.n_node++] = nd;
    return nd;
}

static Onnx__AttributeProto *attr(builder *b, Onnx__NodeProto *nd, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    if (!nd)
        return NULL;
    Onnx__AttributeProto *a = arena(b, sizeof *a);
    Onnx__AttributeProto **list = arena(b, (nd->n_attribute + 1) * sizeof *list);
    if (!a || !list)
        return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = true;
    a->type = type;
    if (nd->n_attribute)
        memcpy(list, nd->attribute, nd->n_attribute * sizeof *list);
    list[nd->n_attribute++] = a;
    nd->attribute = list;
    return a;
}

static void attr_int(builder *b, Onnx__NodeProto *nd, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = true;
        a->i = v;
    }
}

static void attr_float(builder *b, Onnx__NodeProto *nd, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = true;
        a->f = v;
    }
}

static const char *out0(const Onnx__NodeProto *nd)
{
    return nd ? nd->output[0] : NULL;
}

static const char *op1(builder *b, const char *op, const char *x)
{
    return out0(node(b, op, 1, (const char *[]){x}, 1));
}

static const char *op2(builder *b, const char *op, const char *x, const char *y)
{
    return out0(node(b, op, 2, (const char *[]){x, y}, 1));
}

static const char *op3(builder *b, const char *op, const char *x, const char *y, const char *z)
{
    return out0(node(b, op, 3, (const char *[]){x, y, z}, 1));
}

/* ---------------------------------------------------- inputs, outputs */

/* A graph input or output: float [N x width] (width 0: int64 [N]), the
 * batch dimension symbolic. */
static Onnx__ValueInfoProto *value_info(builder *b, const char *name, size_t width)
{
    Onnx__ValueInfoProto *v = arena(b, sizeof *v);
    Onnx__TypeProto *tp = arena(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = arena(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = arena(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = arena(b, 2 * sizeof *dims);
    Onnx__TensorShapeProto__Dimension *d0 = arena(b, sizeof *d0), *d1 = arena(b, sizeof *d1);
    if (!v || !tp || !tt || !sh || !dims || !d0 || !d1)
        return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    onnx__tensor_shape_proto__dimension__init(d0);
    onnx__tensor_shape_proto__dimension__init(d1);
    d0->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d0->dim_param = "N";
    d1->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d1->dim_value = (int64_t)width;
    dims[0] = d0;
    dims[1] = d1;
    sh->n_dim = width ? 2 : 1;
    sh->dim = dims;
    tt->has_elem_type = true;
    tt->elem_type = width ? ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT : ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = (char *)name;
    v->type = tp;
    return v;
}

static void graph_input(builder *b, const char *name, size_t width)
{
    Onnx__ValueInfoProto *v = value_info(b, name, width);
    if (!v)
        b->failed = true;
    else
        b->inputs[b->graph.n_input++] = v;
}

/* Names tensor t as the graph output `name` (an Identity node). */
static void graph_output(builder *b, const char *name, const char *t, size_t width)
{
    Onnx__NodeProto *nd = node(b, "Identity", 1, (const char *[]){t}, 1);
    Onnx__ValueInfoProto *v = value_info(b, name, width);
    if (!nd || !v) {
        b->failed = true;
        return;
    }
    nd->output[0] = (char *)name;
    b->outputs[b->graph.n_output++] = v;
}

/* ------------------------------------------------------- the networks */

/* act(x) as ae_act_forward computes it (nn/layers.c). */
static const char *activation(builder *b, ae_activation act, const char *x)
{
    Onnx__NodeProto *nd;
    switch (act) {
    case AE_ACT_RELU:
        return op1(b, "Relu", x);
    case AE_ACT_LEAKY_RELU:
        nd = node(b, "LeakyRelu", 1, (const char *[]){x}, 1);
        attr_float(b, nd, "alpha", 0.01f);
        return out0(nd);
    case AE_ACT_ELU:
        nd = node(b, "Elu", 1, (const char *[]){x}, 1);
        attr_float(b, nd, "alpha", 1.0f);
        return out0(nd);
    case AE_ACT_TANH:
        return op1(b, "Tanh", x);
    case AE_ACT_SIGMOID:
        return op1(b, "Sigmoid", x);
    case AE_ACT_LINEAR:
        return x;
    }
    return NULL;
}

/* A stack of dense layers on x [N x in]: Gemm(h, W, b) with W [out x in]
 * (transB) or, for a tied layer, its twin's W [in x out] as stored; the
 * first layer of a conditional stack sees [x | one-hot(label)]. */
static const char *stack(builder *b, const ae_model *m, const ae_mlp *s, const char *prefix,
                         const char *x, const char *label)
{
    const char *h = x;
    char hint[64];
    if (s->n > 0 && s->layer[0].classes) {
        /* OneHot(label, depth, [off, on]) -> float [N x C] */
        int64_t depth = (int64_t)s->layer[0].classes;
        const float off_on[2] = {0.0f, 1.0f};
        const char *hot = op3(b, "OneHot", label, ints(b, "classes", &depth, 1),
                              vector(b, "off_on", off_on, 2));
        Onnx__NodeProto *cat = node(b, "Concat", 2, (const char *[]){h, hot}, 1);
        attr_int(b, cat, "axis", 1);
        h = out0(cat);
    }
    for (int i = 0; i < s->n; i++) {
        const ae_layer *l = &s->layer[i];
        int64_t wd[2] = {(int64_t)l->out, (int64_t)l->in}, bd = (int64_t)l->out;
        if (l->transposed) { /* stored as the twin's [in x out] */
            wd[0] = (int64_t)l->in;
            wd[1] = (int64_t)l->out;
        }
        snprintf(hint, sizeof hint, "%s.%d.weight", prefix, i);
        const char *w = floats(b, hint, m->params + l->w_off, wd, 2);
        snprintf(hint, sizeof hint, "%s.%d.bias", prefix, i);
        const char *bias = floats(b, hint, m->params + l->b_off, &bd, 1);
        Onnx__NodeProto *g = node(b, "Gemm", 3, (const char *[]){h, w, bias}, 1);
        attr_int(b, g, "transB", l->transposed ? 0 : 1);
        h = activation(b, l->act, out0(g));
    }
    return h;
}

/* The encoder's input in model units: x * scale + shift, the fixed
 * binarisation (v > 0.5 -> 1, else 0, NaN kept), then NaN -> fill (0 for a
 * model trained on complete data), and with model.missing_indicators the
 * 0/1 mask beside it, as batch.c and model.c do it. */
static const char *scaled_input(builder *b, const ae_model *m, const ae_config *cfg,
                                const char *x)
{
    const size_t D = m->input_dim;
    int64_t d = (int64_t)D;
    const char *v = op2(b, "Add", op2(b, "Mul", x, floats(b, "scale", m->scale, &d, 1)),
                        floats(b, "shift", m->shift, &d, 1));
    const char *nan = op1(b, "IsNaN", v);
    const char *kept = v;
    if (cfg->data.binarize == AE_BIN_FIXED)
        kept = op3(b, "Where", op2(b, "Greater", v, scalar(b, 0.5f)), scalar(b, 1.0f),
                   scalar(b, 0.0f));
    float *fill = arena(b, D * sizeof *fill); /* zeros unless the model has a fill */
    if (fill && m->fill)
        memcpy(fill, m->fill, D * sizeof *fill);
    const char *in = op3(b, "Where", nan, fill ? floats(b, "fill", fill, &d, 1) : NULL, kept);
    if (!m->missing_indicators)
        return in;
    /* model.missing_indicators: [values | 1 where missing] */
    Onnx__NodeProto *cast = node(b, "Cast", 1, (const char *[]){nan}, 1);
    attr_int(b, cast, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    Onnx__NodeProto *cat = node(b, "Concat", 2, (const char *[]){in, out0(cast)}, 1);
    attr_int(b, cat, "axis", 1);
    return out0(cat);
}

/* A float tensor shaped like x, every element v: ConstantOfShape(Shape(x)). */
static const char *filled_like(builder *b, const char *x, float v)
{
    Onnx__NodeProto *nd = node(b, "ConstantOfShape", 1, (const char *[]){op1(b, "Shape", x)}, 1);
    Onnx__AttributeProto *a = attr(b, nd, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    int64_t one = 1;
    Onnx__TensorProto *t = tensor(b, NULL, &one, 1, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    float *p = arena(b, sizeof *p);
    if (!a || !t || !p)
        return NULL;
    *p = v;
    t->n_float_data = 1;
    t->float_data = p;
    a->t = t;
    return out0(nd);
}

/* Keeps the k largest-magnitude units of each row of code [N x L], the rest
 * zeroed, as ae.c's top_k: code * ScatterElements(zeros, TopK(|code|).indices,
 * ones).  TopK puts the lower index first among equal values (opset 11 on),
 * the tie rule of ae.c. */
static const char *top_k(builder *b, const char *code, size_t k)
{
    int64_t kk = (int64_t)k;
    Onnx__NodeProto *tk =
        node(b, "TopK", 2, (const char *[]){op1(b, "Abs", code), ints(b, "k", &kk, 1)}, 2);
    attr_int(b, tk, "axis", 1);
    const char *idx = tk ? tk->output[1] : NULL;
    Onnx__NodeProto *mask = node(b, "ScatterElements", 3,
                                 (const char *[]){filled_like(b, code, 0.0f), idx,
                                                  filled_like(b, idx, 1.0f)}, 1);
    attr_int(b, mask, "axis", 1);
    return op2(b, "Mul", code, out0(mask));
}

/* The mean of a continuous Bernoulli with logits l, as
 * ae_continuous_bernoulli_mean: 1/2 + l/12 - l^3/720 for |l| < 0.1, else
 * 1/2 + coth(l/2)/2 - 1/l (Where drops the other branch, so its division by
 * a zero l does no harm). */
static const char *cbernoulli_mean(builder *b, const char *l)
{
    const char *small = op2(b, "Less", op1(b, "Abs", l), scalar(b, 0.1f));
    const char *l2 = op2(b, "Mul", l, l);
    const char *series = op2(b, "Add", scalar(b, 0.5f),
                             op2(b, "Mul", l, op2(b, "Sub", scalar(b, 1.0f / 12.0f),
                                                  op2(b, "Mul", l2, scalar(b, 1.0f / 720.0f)))));
    const char *th = op1(b, "Tanh", op2(b, "Mul", scalar(b, 0.5f), l));
    const char *closed = op2(b, "Sub", op2(b, "Add", scalar(b, 0.5f),
                                           op2(b, "Div", scalar(b, 0.5f), th)),
                             op2(b, "Div", scalar(b, 1.0f), l));
    return op3(b, "Where", small, series, closed);
}

/* The decoder's outputs y [N x outputs*D] -> the likelihood's mean [N x D],
 * as each likelihood's mean() computes it. */
static const char *likelihood_mean(builder *b, const ae_model *m, const char *y)
{
    int64_t zero = 0, D = (int64_t)m->input_dim, one = 1;
    switch (m->likelihood) {
    case AE_LIK_BERNOULLI:
        return op1(b, "Sigmoid", y);
    case AE_LIK_GAUSSIAN:
        return y;
    case AE_LIK_CONTINUOUS_BERNOULLI:
        return cbernoulli_mean(b, y);
    case AE_LIK_GAUSSIAN_LEARNED: /* [means | log-variances]: the first D */
        return out0(node(b, "Slice", 4,
                         (const char *[]){y, ints(b, "starts", &zero, 1), ints(b, "ends", &D, 1),
                                          ints(b, "axes", &one, 1)}, 1));
    case AE_LIK_COUNT:
        break;
    }
    return NULL;
}

/* ------------------------------------------------------------- models */

static void builder_init(builder *b, const char *name)
{
    memset(b, 0, sizeof *b);
    onnx__graph_proto__init(&b->graph);
    b->graph.name = (char *)name;
    b->graph.node = b->nodes;
    b->graph.initializer = b->inits;
    b->graph.input = b->inputs;
    b->graph.output = b->outputs;
}

/* Packs the graph into a model and writes it to path. */
/* data.class_names as a JSON array (names hold no control characters, so
 * only quotes and backslashes need escaping); malloc'ed, NULL without names
 * or memory. */
static char *class_names_json(const ae_config *cfg)
{
    const char *names[AE_MAX_CLASS_NAMES];
    size_t n = ae_config_class_names(cfg, names), len = 3;
    if (!n)
        return NULL;
    for (size_t k = 0; k < n; k++)
        len += 2 * strlen(names[k]) + 4;
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    *p++ = '[';
    for (size_t k = 0; k < n; k++) {
        if (k)
            *p++ = ',';
        *p++ = '"';
        for (const char *c = names[k]; *c; c++) {
            if (*c == '"' || *c == '\\')
                *p++ = '\\';
            *p++ = *c;
        }
        *p++ = '"';
    }
    *p++ = ']';
    *p = '\0';
    return out;
}

static ae_status finish(builder *b, const ae_model *m, const ae_config *cfg, const char *doc,
                        const char *path, ae_error *err)
{
    Onnx__ModelProto model;
    Onnx__OperatorSetIdProto opset, *opsets[1] = {&opset};
    onnx__model_proto__init(&model);
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "";
    opset.has_version = true;
    opset.version = AE_ONNX_OPSET;
    model.has_ir_version = true;
    model.ir_version = AE_ONNX_IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "autoencoder toolkit";
    model.producer_version = (char *)ae_version();
    model.doc_string = (char *)doc;
    model.graph = &b->graph;
    /* what the model is, for a reader of the file; the class names say
     * which label number is which */
    char *names = class_names_json(cfg);
    if (cfg->data.n_class_names && !names)
        b->failed = true; /* out of memory: reported below */
    const char *keys[] = {"model.type", "model.likelihood", "model.latent", "data.class_names"};
    char latent[32];
    snprintf(latent, sizeof latent, "%zu", m->latent);
    const char *vals[] = {m->family->name, ae_likelihood_get(m->likelihood)->name, latent, names};
    int nprops = names ? 4 : 3;
    Onnx__StringStringEntryProto props[4], *pp[4];
    for (int i = 0; i < nprops; i++) {
        onnx__string_string_entry_proto__init(&props[i]);
        props[i].key = (char *)keys[i];
        props[i].value = (char *)vals[i];
        pp[i] = &props[i];
    }
    model.n_metadata_props = (size_t)nprops;
    model.metadata_props = pp;

    uint8_t *buf = NULL;
    size_t size = 0;
    if (!b->failed) {
        size = onnx__model_proto__get_packed_size(&model);
        buf = malloc(size ? size : 1);
    }
    if (!buf) {
        arena_free(b);
        free(names);
        ae_error_set(err, "%s: out of memory building the ONNX graph", path);
        return AE_ERR_NOMEM;
    }
    onnx__model_proto__pack(&model, buf);
    free(names);
    ae_status st = ae_write_file_atomic(path, buf, size, err);
    free(buf);
    arena_free(b);
    return st;
}

ae_status ae_onnx_write_encoder(const ae_model *m, const ae_config *cfg, const char *path,
                                ae_error *err)
{
    builder b;
    builder_init(&b, "encoder");
    const size_t D = m->input_dim, L = m->latent;
    bool labelled = m->enc.layer[0].classes > 0;
    graph_input(&b, "x", D);
    if (labelled)
        graph_input(&b, "label", 0);
    const char *head = stack(&b, m, &m->enc, "encoder", scaled_input(&b, m, cfg, "x"),
                             labelled ? "label" : NULL);
    if (m->family->variational) {
        /* head [N x 2L] = [mu | logvar], logvar clamped as ae_clamp_logvar */
        int64_t halves[2] = {(int64_t)L, (int64_t)L};
        Onnx__NodeProto *split =
            node(&b, "Split", 2, (const char *[]){head, ints(&b, "split", halves, 2)}, 2);
        attr_int(&b, split, "axis", 1);
        const char *mu = split ? split->output[0] : NULL, *lv = split ? split->output[1] : NULL;
        graph_output(&b, "mu", mu, L);
        graph_output(&b, "logvar",
                     op3(&b, "Clip", lv, scalar(&b, AE_LOGVAR_MIN), scalar(&b, AE_LOGVAR_MAX)), L);
    } else {
        graph_output(&b, "code", m->topk ? top_k(&b, head, m->topk) : head, L);
    }
    return finish(&b, m, cfg,
                  "Encoder: x [N x D] in the data's units (NaN: missing) [, label [N] int64] -> "
                  "code, or mu and logvar, [N x L]",
                  path, err);
}

ae_status ae_onnx_write_decoder(const ae_model *m, const ae_config *cfg, const char *path,
                                ae_error *err)
{
    builder b;
    builder_init(&b, "decoder");
    const size_t D = m->input_dim;
    bool labelled = m->dec.layer[0].classes > 0;
    graph_input(&b, "z", m->latent);
    if (labelled)
        graph_input(&b, "label", 0);
    const char *y = stack(&b, m, &m->dec, "decoder", "z", labelled ? "label" : NULL);
    const char *mean = likelihood_mean(&b, m, y);
    /* and in the data's units, as aesample --csv writes them */
    int64_t d = (int64_t)D;
    const char *x = op2(&b, "Div", op2(&b, "Sub", mean, floats(&b, "shift", m->shift, &d, 1)),
                        floats(&b, "scale", m->scale, &d, 1));
    graph_output(&b, "mean", mean, D);
    graph_output(&b, "x", x, D);
    return finish(&b, m, cfg,
                  "Decoder: z [N x L] [, label [N] int64] -> mean [N x D], the likelihood's "
                  "mean in the model's units, and x [N x D], the same in the data's units",
                  path, err);
}
