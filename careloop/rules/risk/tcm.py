"""中医体质分类与判定 (ZYYXH/T 157-2009, China Association of Chinese Medicine): nine
constitutions from a questionnaire answered 1–5 (没有 1, 很少 2, 有时 3, 经常 4, 总是 5).

For each constitution: raw score = the sum of its items (平和质 items marked * are scored in
reverse: 1↔5, 2↔4); converted score = (raw − number of items) ÷ (number of items × 4) × 100.

- 平和质: 是 when its converted score ≥ 60 and every other constitution's < 30; 基本是 when
  ≥ 60 and every other's < 40; otherwise 否.
- Each of the eight others (偏颇体质): 是 ≥ 40; 倾向是 30–39; 否 < 30.

Answers are keyed by constitution letter and item number (A1–A8 平和质, B 气虚质, C 阳虚质,
D 阴虚质, E 痰湿质, F 湿热质, G 血瘀质, H 气郁质, I 特禀质). Six questions belong to two
constitutions and are asked once (e.g. A2 容易疲乏 is B1): either key may be given. F6 is
带下色黄 for women and 阴囊潮湿 for men.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from careloop.rules.risk.base import InputError, ModelResult, round_half_up

PINGHE = "平和质"
TYPES = {
    "A": PINGHE,
    "B": "气虚质",
    "C": "阳虚质",
    "D": "阴虚质",
    "E": "痰湿质",
    "F": "湿热质",
    "G": "血瘀质",
    "H": "气郁质",
    "I": "特禀质",
}
# key → (question, reverse-scored)
ITEMS: dict[str, tuple[str, bool]] = {
    "A1": ("您精力充沛吗？", False),
    "A2": ("您容易疲乏吗？", True),
    "A3": ("您说话声音低弱无力吗？", True),
    "A4": ("您感到闷闷不乐、情绪低沉吗？", True),
    "A5": ("您比一般人耐受不了寒冷（冬天的寒冷，夏天的冷空调、电扇等）吗？", True),
    "A6": ("您能适应外界自然和社会环境的变化吗？", False),
    "A7": ("您容易失眠吗？", True),
    "A8": ("您容易忘事（健忘）吗？", True),
    "B1": ("您容易疲乏吗？", False),
    "B2": ("您容易气短（呼吸短促，接不上气）吗？", False),
    "B3": ("您容易心慌吗？", False),
    "B4": ("您容易头晕或站起时晕眩吗？", False),
    "B5": ("您比别人容易患感冒吗？", False),
    "B6": ("您喜欢安静、懒得说话吗？", False),
    "B7": ("您说话声音低弱无力吗？", False),
    "B8": ("您活动量稍大就容易出虚汗吗？", False),
    "C1": ("您手脚发凉吗？", False),
    "C2": ("您胃脘部、背部或腰膝部怕冷吗？", False),
    "C3": ("您感到怕冷、衣服比别人穿得多吗？", False),
    "C4": ("您比一般人耐受不了寒冷（冬天的寒冷，夏天的冷空调、电扇等）吗？", False),
    "C5": ("您比别人容易患感冒吗？", False),
    "C6": ("您吃（喝）凉的东西会感到不舒服或者怕吃（喝）凉的东西吗？", False),
    "C7": ("您受凉或吃（喝）凉的东西后，容易腹泻（拉肚子）吗？", False),
    "D1": ("您感到手脚心发热吗？", False),
    "D2": ("您感觉身体、脸上发热吗？", False),
    "D3": ("您皮肤或口唇干吗？", False),
    "D4": ("您口唇的颜色比一般人红吗？", False),
    "D5": ("您容易便秘或大便干燥吗？", False),
    "D6": ("您面部两颧潮红或偏红吗？", False),
    "D7": ("您感到眼睛干涩吗？", False),
    "D8": ("您感到口干咽燥、总想喝水吗？", False),
    "E1": ("您感到胸闷或腹部胀满吗？", False),
    "E2": ("您感到身体沉重不轻松或不爽快吗？", False),
    "E3": ("您腹部肥满松软吗？", False),
    "E4": ("您有额部油脂分泌多的现象吗？", False),
    "E5": ("您上眼睑比别人肿（上眼睑有轻微隆起的现象）吗？", False),
    "E6": ("您嘴里有黏黏的感觉吗？", False),
    "E7": ("您平时痰多，特别是咽喉部总感到有痰堵着吗？", False),
    "E8": ("您舌苔厚腻或有舌苔厚厚的感觉吗？", False),
    "F1": ("您面部或鼻部有油腻感或者油亮发光吗？", False),
    "F2": ("您容易生痤疮或疮疖吗？", False),
    "F3": ("您感到口苦或嘴里有异味吗？", False),
    "F4": ("您大便黏滞不爽、有解不尽的感觉吗？", False),
    "F5": ("您小便时尿道有发热感、尿色浓（深）吗？", False),
    "F6": (
        "您带下色黄（白带颜色发黄）吗？（限女性回答）/ 您的阴囊部位潮湿吗？（限男性回答）",
        False,
    ),
    "G1": ("您的皮肤在不知不觉中会出现青紫瘀斑（皮下出血）吗？", False),
    "G2": ("您两颧部有细微红丝吗？", False),
    "G3": ("您身体上有哪里疼痛吗？", False),
    "G4": ("您面色晦黯或容易出现褐斑吗？", False),
    "G5": ("您容易有黑眼圈吗？", False),
    "G6": ("您容易忘事（健忘）吗？", False),
    "G7": ("您口唇颜色偏黯吗？", False),
    "H1": ("您感到闷闷不乐、情绪低沉吗？", False),
    "H2": ("您容易精神紧张、焦虑不安吗？", False),
    "H3": ("您多愁善感、感情脆弱吗？", False),
    "H4": ("您容易感到害怕或受到惊吓吗？", False),
    "H5": ("您胁肋部或乳房胀痛吗？", False),
    "H6": ("您无缘无故叹气吗？", False),
    "H7": ("您咽喉部有异物感，且吐之不出、咽之不下吗？", False),
    "I1": ("您没有感冒时也会打喷嚏吗？", False),
    "I2": ("您没有感冒时也会鼻塞、流鼻涕吗？", False),
    "I3": ("您有因季节变化、温度变化或异味等原因而咳喘的现象吗？", False),
    "I4": ("您容易过敏（对药物、食物、气味、花粉或在季节交替、气候变化时）吗？", False),
    "I5": ("您的皮肤容易起荨麻疹（风团、风疹块、风疙瘩）吗？", False),
    "I6": ("您的皮肤因过敏出现过紫癜（紫红色瘀点、瘀斑）吗？", False),
    "I7": ("您的皮肤一抓就红，并出现抓痕吗？", False),
}
# The same question in two constitutions, asked once: key → the key it repeats.
SAME_AS = {"B1": "A2", "B7": "A3", "H1": "A4", "C4": "A5", "G6": "A8", "C5": "B5"}
ANSWER_LABELS = {
    1: "没有（根本不）",
    2: "很少（有一点）",
    3: "有时（有些）",
    4: "经常（相当）",
    5: "总是（非常）",
}

YES, LEANING, BASICALLY, NO = "是", "倾向是", "基本是", "否"
INDETERMINATE = "未判定"

REGIMEN = {
    PINGHE: "饮食有节、劳逸结合、坚持适度运动，保持良好的生活习惯即可。",
    "气虚质": (
        "多吃益气健脾的食物，如山药、大枣、小米、鸡肉；"
        "少吃生冷油腻。起居规律，避免过度劳累和大汗；"
        "选择散步、太极拳、八段锦等柔缓运动。"
    ),
    "阳虚质": (
        "多吃温阳的食物，如羊肉、韭菜、生姜；少吃生冷寒凉。"
        "注意保暖，尤其是腰背和下肢，多晒太阳；运动以温和为主，"
        "避免大汗。"
    ),
    "阴虚质": (
        "多吃滋阴的食物，如百合、银耳、梨、黑芝麻；少吃辛辣燥热和煎炸食物。"
        "保证睡眠，不熬夜；避免在高温环境下剧烈运动。"
    ),
    "痰湿质": (
        "饮食清淡，少吃肥甘厚味、甜食和冷饮，可多吃薏米、"
        "冬瓜、赤小豆；控制体重。居处避免潮湿，坚持较长时间的中等强度运动。"
    ),
    "湿热质": (
        "饮食清淡，多吃绿豆、苦瓜、冬瓜等；戒烟限酒，"
        "少吃辛辣油腻。避免熬夜和湿热环境，适合中等强度以上的运动。"
    ),
    "血瘀质": (
        "多吃活血的食物，如山楂、黑木耳、玫瑰花茶；少吃寒凉和油腻。"
        "保持心情舒畅，避免久坐，多做有助于气血运行的运动。"
    ),
    "气郁质": (
        "多吃理气解郁的食物，如柑橘、玫瑰花、萝卜；少喝浓茶咖啡。"
        "多参加集体活动和户外运动，培养兴趣爱好，保持心情舒畅。"
    ),
    "特禀质": (
        "饮食清淡均衡，避免已知的过敏食物和环境过敏原（花粉、"
        "尘螨等）；季节交替时注意防护，适度运动增强体质。"
    ),
}


def _items(letter: str) -> list[str]:
    return [key for key in ITEMS if key[0] == letter]


@dataclass(frozen=True, kw_only=True)
class TcmInput:
    sex: Literal["male", "female"]
    answers: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.answers.items():
            if key not in ITEMS:
                raise InputError("answers", f"has an unknown item {key} (A1–I7)")
            if value not in (1, 2, 3, 4, 5):
                raise InputError(f"answers.{key}", "must be 1, 2, 3, 4 or 5")
        for key, same in SAME_AS.items():
            given = {self.answers[k] for k in (key, same) if k in self.answers}
            if len(given) > 1:
                raise InputError(
                    f"answers.{key}", f"is the same question as {same}: give one answer"
                )
        for key in ITEMS:
            if key not in self.answers and _partner(key) not in self.answers:
                raise InputError(f"answers.{key}", "is required")

    def answer(self, key: str) -> int:
        return int(self.answers[key] if key in self.answers else self.answers[_partner(key)])


def _partner(key: str) -> str:
    """The other key of a question asked once for two constitutions ("" when none)."""
    if key in SAME_AS:
        return SAME_AS[key]
    return next((k for k, same in SAME_AS.items() if same == key), "")


@dataclass(frozen=True, kw_only=True)
class TcmResult(ModelResult):
    MODEL = "tcm-constitution"
    VERSION = "tcm-constitution/zyyxh-t157-2009/1"

    converted: dict[str, float]  # constitution → converted score, 2 decimals
    raw: dict[str, int]
    verdicts: dict[str, str]  # constitution → 是 / 基本是 / 倾向是 / 否
    constitutions: list[str]  # judged 是 or 基本是 (平和质) / 是 or 倾向是 (the others)
    category: str  # the main one: 平和质, the highest-scoring biased one, or 未判定
    regimen: str


def tcm_constitution(inputs: TcmInput) -> TcmResult:
    raw: dict[str, int] = {}
    converted: dict[str, float] = {}
    exact: dict[str, float] = {}
    for letter, name in TYPES.items():
        keys = _items(letter)
        scores = [inputs.answer(k) for k in keys]
        scores = [6 - s if ITEMS[k][1] else s for k, s in zip(keys, scores, strict=True)]
        raw[name] = sum(scores)
        exact[name] = (raw[name] - len(keys)) / (len(keys) * 4) * 100
        converted[name] = round_half_up(exact[name], 2)
    others = [exact[name] for name in TYPES.values() if name != PINGHE]
    verdicts = {}
    if exact[PINGHE] >= 60 and all(s < 30 for s in others):
        verdicts[PINGHE] = YES
    elif exact[PINGHE] >= 60 and all(s < 40 for s in others):
        verdicts[PINGHE] = BASICALLY
    else:
        verdicts[PINGHE] = NO
    for name in TYPES.values():
        if name != PINGHE:
            score = exact[name]
            verdicts[name] = YES if score >= 40 else LEANING if score >= 30 else NO
    biased = sorted(
        (n for n in TYPES.values() if n != PINGHE and verdicts[n] != NO),
        key=lambda n: (verdicts[n] != YES, -exact[n]),
    )
    constitutions = ([PINGHE] if verdicts[PINGHE] != NO else []) + biased
    main = biased[0] if biased else INDETERMINATE
    category = PINGHE if verdicts[PINGHE] != NO else main
    shown = "、".join(f"{n}（{verdicts[n]}，{converted[n]:g} 分）" for n in constitutions) or "无"
    regimen = REGIMEN.get(category, "")
    explanation = (
        f"按《中医体质分类与判定》计算各体质转化分：平和质 {converted[PINGHE]:g} 分。"
        f"判定结果：{shown}。"
        + (f"调养建议（{category}）：{regimen}" if regimen else "未能判定明确体质，建议复评。")
    )
    return TcmResult(
        inputs=inputs,
        converted=converted,
        raw=raw,
        verdicts=verdicts,
        constitutions=constitutions,
        category=category,
        regimen=regimen,
        explanation=explanation,
    )


def questionnaire() -> dict[str, object]:
    """The questionnaire for the staff and patient pages: each question once, answered 1–5."""
    options = [{"value": str(n), "label": label} for n, label in ANSWER_LABELS.items()]
    return {
        "code": "tcm-constitution",
        "title": "中医体质辨识问卷",
        "intro": "请根据近一年的体验和感觉，回答以下问题。（ZYYXH/T 157-2009）",
        "items": [
            {"key": key, "type": "choice", "text": text, "options": options}
            for key, (text, _reverse) in ITEMS.items()
            if key not in SAME_AS
        ],
        "assessment": "tcm-constitution",
    }
