/* Tests of chat templates (recognition from real-world template texts, exact rendering per
 * format, default system prompts) and of stop strings across token boundaries. */
#include "testutil.h"

#include "slm/gen.h"

#include <stdlib.h>
#include <string.h>

/* Template texts in the shape the models ship them. */
static const char smollm2_tpl[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}";
static const char plain_chatml_tpl[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
static const char zephyr_tpl[] =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + "
    "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ "
    "'<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == "
    "'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";
static const char llama2_tpl[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{{ bos_token + '[INST] <<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' }}"
    "{% endif %}{{ '[INST] ' + content.strip() + ' [/INST]' }}";
static const char llama3_tpl[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ "
    "message['content'] | trim + '<|eot_id|>' %}{{ content }}{% endfor %}";

static char *render(const char *tpl, const struct slm_chat_message *m, size_t n, bool gen) {
    struct slm_chat_template t;
    TU_ASSERT_OK(slm_chat_template_detect(tpl, tpl ? strlen(tpl) : 0, &t));
    char *out = NULL;
    TU_ASSERT_OK(slm_chat_apply(&t, m, n, gen, &out));
    slm_chat_template_clear(&t);
    return out;
}

static void detection(void **state) {
    (void)state;
    struct {
        const char *tpl;
        slm_chat_format f;
        const char *sys;
    } cases[] = {
        {smollm2_tpl, SLM_CHAT_CHATML, "You are a helpful AI assistant named SmolLM, trained by Hugging Face"},
        {plain_chatml_tpl, SLM_CHAT_CHATML, NULL},
        {zephyr_tpl, SLM_CHAT_ZEPHYR, NULL},
        {llama2_tpl, SLM_CHAT_LLAMA2, NULL},
        {llama3_tpl, SLM_CHAT_LLAMA3, NULL},
        {"{{ messages }}", SLM_CHAT_PLAIN, NULL},
        {NULL, SLM_CHAT_PLAIN, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct slm_chat_template t;
        TU_ASSERT_OK(slm_chat_template_detect(cases[i].tpl, cases[i].tpl ? strlen(cases[i].tpl) : 0, &t));
        assert_int_equal(t.format, cases[i].f);
        if (cases[i].sys) assert_string_equal(t.default_system, cases[i].sys);
        else assert_null(t.default_system);
        slm_chat_template_clear(&t);
    }
    slm_chat_format f;
    TU_ASSERT_OK(slm_chat_format_from_name("zephyr", &f));
    assert_int_equal(f, SLM_CHAT_ZEPHYR);
    assert_string_equal(slm_chat_format_name(SLM_CHAT_LLAMA2), "llama2");
    assert_int_equal(slm_chat_format_from_name("jinja", &f), SLM_E_INVALID_INPUT);
}

static void rendering(void **state) {
    (void)state;
    const struct slm_chat_message conv[] = {
        {"user", "Hi!"}, {"assistant", "Hello."}, {"user", "What is 2+2?"}};
    const struct slm_chat_message with_sys[] = {{"system", "Be brief."}, {"user", "Hi!"}};
    char *s = render(smollm2_tpl, conv, 3, true);
    assert_string_equal(s, "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
                           "trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
                           "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhat is "
                           "2+2?<|im_end|>\n<|im_start|>assistant\n");
    slm_free(s);
    s = render(smollm2_tpl, with_sys, 2, false);
    assert_string_equal(s, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n");
    slm_free(s);
    s = render(zephyr_tpl, with_sys, 2, true);
    assert_string_equal(s, "<|system|>\nBe brief.</s>\n<|user|>\nHi!</s>\n<|assistant|>\n");
    slm_free(s);
    s = render(llama2_tpl, with_sys, 2, true);
    assert_string_equal(s, "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST]");
    slm_free(s);
    s = render(llama2_tpl, conv, 3, true);
    assert_string_equal(s, "[INST] Hi! [/INST] Hello. </s><s>[INST] What is 2+2? [/INST]");
    slm_free(s);
    s = render(llama3_tpl, with_sys, 2, true);
    assert_string_equal(s, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                           "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                           "<|start_header_id|>assistant<|end_header_id|>\n\n");
    slm_free(s);
    s = render(NULL, with_sys, 2, true);
    assert_string_equal(s, "System: Be brief.\nUser: Hi!\nAssistant:");
    slm_free(s);

    struct slm_chat_template t = {SLM_CHAT_CHATML, NULL};
    const struct slm_chat_message bad[] = {{"tool", "x"}};
    char *out = (char *)1;
    assert_int_equal(slm_chat_apply(&t, bad, 1, true, &out), SLM_E_INVALID_INPUT);
    assert_null(out);
    const struct slm_chat_message null_content[] = {{"user", NULL}};
    assert_int_equal(slm_chat_apply(&t, null_content, 1, true, &out), SLM_E_INVALID_INPUT);
}

static void template_from_gguf(void **state) {
    (void)state;
    slm_gguf_writer *w = NULL;
    TU_ASSERT_OK(slm_gguf_writer_create(&w));
    TU_ASSERT_OK(slm_gguf_writer_set_str(w, "tokenizer.chat_template", zephyr_tpl));
    void *buf;
    size_t n;
    TU_ASSERT_OK(slm_gguf_writer_write_memory(w, &buf, &n));
    slm_gguf *g = NULL;
    TU_ASSERT_OK(slm_gguf_open_memory(buf, n, NULL, &g));
    struct slm_chat_template t;
    TU_ASSERT_OK(slm_chat_template_from_gguf(g, &t));
    assert_int_equal(t.format, SLM_CHAT_ZEPHYR);
    slm_gguf_close(g);
    slm_free(buf);
    slm_gguf_writer_remove(w, "tokenizer.chat_template");
    TU_ASSERT_OK(slm_gguf_writer_write_memory(w, &buf, &n));
    TU_ASSERT_OK(slm_gguf_open_memory(buf, n, NULL, &g));
    TU_ASSERT_OK(slm_chat_template_from_gguf(g, &t));
    assert_int_equal(t.format, SLM_CHAT_PLAIN);
    slm_gguf_close(g);
    slm_free(buf);
    slm_gguf_writer_free(w);
}

/* Feeds pieces; returns everything emitted (including the flush) and whether it stopped. */
static char *stream(const char *const *stops, size_t n_stops, const char *const *pieces,
                    size_t n_pieces, bool *stopped) {
    slm_stop_matcher *m = NULL;
    TU_ASSERT_OK(slm_stop_matcher_create(stops, n_stops, &m));
    char *all = calloc(1, 4096);
    *stopped = false;
    for (size_t i = 0; i < n_pieces; i++) {
        const char *e;
        size_t len;
        bool st;
        TU_ASSERT_OK(slm_stop_matcher_feed(m, pieces[i], strlen(pieces[i]), &e, &len, &st));
        strncat(all, e, len);
        if (st) *stopped = true;
    }
    const char *e;
    size_t len;
    TU_ASSERT_OK(slm_stop_matcher_flush(m, &e, &len));
    strncat(all, e, len);
    slm_stop_matcher_free(m);
    return all;
}

static void stop_strings(void **state) {
    (void)state;
    bool stopped;
    const char *stops1[] = {"World"};
    const char *p1[] = {"Hel", "lo Wor", "ld and more", "never"};
    char *s = stream(stops1, 1, p1, 4, &stopped);
    assert_true(stopped);
    assert_string_equal(s, "Hello ");
    free(s);
    /* a held prefix that does not complete is released */
    const char *stops2[] = {"</s>"};
    const char *p2[] = {"a<", "/b", "c</", "s"};
    s = stream(stops2, 1, p2, 4, &stopped);
    assert_false(stopped);
    assert_string_equal(s, "a</bc</s");
    free(s);
    /* the earliest of several stop strings wins, even if another started first */
    const char *stops3[] = {"xyz", "\n\n", ""};
    const char *p3[] = {"ab x", "y\n\nz"};
    s = stream(stops3, 3, p3, 2, &stopped);
    assert_true(stopped);
    assert_string_equal(s, "ab xy");
    free(s);
    /* no stop strings: everything passes at once */
    const char *p4[] = {"one ", "two"};
    s = stream(NULL, 0, p4, 2, &stopped);
    assert_false(stopped);
    assert_string_equal(s, "one two");
    free(s);
    /* what is shown is released as soon as it cannot be a stop string */
    slm_stop_matcher *m = NULL;
    TU_ASSERT_OK(slm_stop_matcher_create(stops1, 1, &m));
    const char *e;
    size_t len;
    bool st;
    TU_ASSERT_OK(slm_stop_matcher_feed(m, "say Wo", 6, &e, &len, &st));
    assert_int_equal(len, 4);
    assert_memory_equal(e, "say ", 4);
    TU_ASSERT_OK(slm_stop_matcher_feed(m, "w", 1, &e, &len, &st));
    assert_int_equal(len, 3);
    assert_memory_equal(e, "Wow", 3);
    slm_stop_matcher_free(m);
    slm_stop_matcher_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detection),
        cmocka_unit_test(rendering),
        cmocka_unit_test(template_from_gguf),
        cmocka_unit_test(stop_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
