#!/usr/bin/env python3
"""Renders multilingual conversations with the real chat templates of
tests/data/chat_templates/*.jinja using transformers' own renderer
(transformers.utils.chat_template_utils.render_jinja_template: the jinja2 sandbox with
trim_blocks, lstrip_blocks, loopcontrols, raise_exception, strftime_now and transformers'
tojson) and writes tests/data/chat_templates/expected.json for xling_chat_template_tests.

Conversations where the template raises (Gemma rejects the system role, Mistral and Aya require
alternating roles, ...) record the exception's class and message; xling must raise too.

Usage: .venv/bin/python tools/parity/make_chat_template_cases.py [--out FILE]
The random conversations of `make parity` (checks_chat_templates.py) come from
random_conversation() below with other seeds.
"""
import argparse
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TEMPLATES = os.path.join(ROOT, "tests", "data", "chat_templates")

# Special tokens each family's tokenizer_config.json sets (what apply_chat_template passes).
SPECIAL = {
    "llama-3-instruct": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama-3.1-instruct": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "qwen2-instruct": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen2.5-instruct": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "gemma-it": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
    "gemma-2-it": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
    "mistral-7b-instruct-v0.1": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "mistral-7b-instruct-v0.1-system": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "mistral-7b-instruct-v0.3": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "aya-23": {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>", "pad_token": "<PAD>"},
    "aya-expanse": {"bos_token": "<BOS_TOKEN>", "eos_token": "<|END_OF_TURN_TOKEN|>", "pad_token": "<PAD>"},
}

TEXTS = [
    "Hello, how are you?",
    "Translate to French: the cat sleeps.",
    "नमस्ते, आप कैसे हैं?",
    "你好，请把这句话翻译成英文。",
    "مرحبا، كيف حالك؟",
    "Привет! Как дела?",
    "Habari yako? Ninajifunza Kiswahili.",
    "こんにちは、元気ですか？",
    "안녕하세요",
    "Γειά σου κόσμε",
    "שלום עולם",
    "Xin chào, bạn khỏe không?",
    "emoji 👩🏽‍💻🎉 and e\u0301 combining",
    "{{ x }} and {% if true %}not a tag{% endif %} {# nor this #}",
    "  padded with spaces and a newline  \n",
    "line one\nline two\n\nline four",
    "quotes ' \" and backslash \\ and tab\t",
    "",
]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Météo actuelle d'une ville (天气)",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "Nom de la ville"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    }
]


def render(template, messages, add_generation_prompt, kwargs):
    """transformers' rendering: returns {"rendered": str} or {"error": msg, "error_type": cls}."""
    from transformers.utils.chat_template_utils import render_jinja_template
    kw = dict(kwargs)
    tools = kw.pop("tools", None)
    documents = kw.pop("documents", None)
    try:
        out, _ = render_jinja_template(conversations=[messages], tools=tools, documents=documents,
                                       chat_template=template, add_generation_prompt=add_generation_prompt, **kw)
        return {"rendered": out[0]}
    except Exception as e:  # noqa: BLE001 - every template error is recorded
        return {"error": str(e), "error_type": type(e).__name__}


def fixed_conversations():
    """(name, messages, extra kwargs) covering the shapes templates branch on."""
    u, a, s = "user", "assistant", "system"
    m = lambda role, content: {"role": role, "content": content}  # noqa: E731
    convs = [
        ("single_user_hindi", [m(u, TEXTS[2])], {}),
        ("system_user_chinese", [m(s, "You are a helpful translator. 你是翻译。"), m(u, TEXTS[3])], {}),
        ("multi_turn_arabic_russian", [m(u, TEXTS[4]), m(a, TEXTS[5]), m(u, TEXTS[6])], {}),
        ("system_multi_turn_japanese", [m(s, "Réponds en français."), m(u, TEXTS[7]), m(a, TEXTS[8]), m(u, TEXTS[9])], {}),
        ("ends_with_assistant", [m(u, TEXTS[10]), m(a, TEXTS[11])], {}),
        ("jinja_looking_content", [m(u, TEXTS[13]), m(a, "{{ raise_exception('no') }}"), m(u, "{%- set x = 1 -%}")], {}),
        ("whitespace_content", [m(u, TEXTS[14]), m(a, "  answer with spaces  "), m(u, TEXTS[15])], {}),
        ("empty_content", [m(u, ""), m(a, ""), m(u, TEXTS[16])], {}),
        ("emoji_combining", [m(s, ""), m(u, TEXTS[12])], {}),
        ("two_users_in_a_row", [m(u, TEXTS[0]), m(u, TEXTS[1])], {}),
        ("starts_with_assistant", [m(a, TEXTS[0]), m(u, TEXTS[1])], {}),
        ("custom_kwargs", [m(u, TEXTS[1])], {"date_string": "01 Jan 2025", "custom_var": "ignored"}),
        ("tools", [m(s, "Use tools when needed."), m(u, "Quel temps fait-il à Paris ?")], {"tools": TOOLS}),
        ("tool_call_and_result", [
            m(u, "Weather in Nairobi?"),
            {"role": "assistant", "content": "", "tool_calls": [
                {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Nairobi", "unit": "celsius"}}}]},
            {"role": "tool", "content": "{\"temperature\": 24, \"sky\": \"jua\"}"},
            m(u, "Asante!")], {"tools": TOOLS}),
    ]
    return convs


def random_conversation(rng):
    """A random conversation: optional system message, alternating turns (sometimes not), texts
    drawn from TEXTS with random padding; returns (messages, kwargs)."""
    msgs = []
    if rng.random() < 0.4:
        msgs.append({"role": "system", "content": rng.choice(TEXTS)})
    turns = rng.randint(1, 6)
    role = "user"
    for _ in range(turns):
        text = rng.choice(TEXTS)
        if rng.random() < 0.2:
            text = rng.choice(["", " ", "\n"]) + text + rng.choice(["", " ", "\n\n"])
        if rng.random() < 0.1:
            role = rng.choice(["user", "assistant"])  # occasionally break the alternation
        msgs.append({"role": role, "content": text})
        role = "assistant" if role == "user" else "user"
    kwargs = {}
    if rng.random() < 0.2:
        kwargs["date_string"] = rng.choice(["26 Jul 2024", "01 Jan 2025"])
    return msgs, kwargs


def build_cases():
    names = sorted(f[:-6] for f in os.listdir(TEMPLATES) if f.endswith(".jinja"))
    cases = []
    for name in names:
        with open(os.path.join(TEMPLATES, name + ".jinja"), encoding="utf-8", newline="") as f:
            template = f.read()
        for conv_name, messages, extra in fixed_conversations():
            for agp in (True, False):
                kwargs = dict(SPECIAL.get(name, {}))
                kwargs.update(extra)
                case = {"id": f"{name}/{conv_name}/{'gen' if agp else 'nogen'}", "template": name,
                        "add_generation_prompt": agp, "messages": messages, "kwargs": kwargs}
                case.update(render(template, messages, agp, kwargs))
                cases.append(case)
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(TEMPLATES, "expected.json"))
    args = ap.parse_args()
    import transformers
    import jinja2
    cases = build_cases()
    doc = {"generator": "tools/parity/make_chat_template_cases.py",
           "transformers": transformers.__version__, "jinja2": jinja2.__version__, "cases": cases}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = sum("error" in c for c in cases)
    print(f"{len(cases)} cases ({errors} raise) -> {args.out}")


if __name__ == "__main__":
    main()
