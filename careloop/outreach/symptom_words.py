"""The words of symptom detection in patients' replies: canonical symptoms with their
synonyms and colloquial forms, the body-part + sensation pairs people split them into
("胸口有点痛", "头也不晕了"), the words of negation, double negation, questions, bare
answers and time (以前…现在没有了), and the traditional characters read as simplified.

Data only; the detector is careloop/outreach/symptoms.py.
"""

from __future__ import annotations

# Canonical symptom → words that say it (each becomes one token for jieba, so a word is
# found only where it stands as a word: 肿 never fires inside 肿瘤).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "胸痛胸闷": (
        "胸痛",
        "胸闷",
        "胸疼",
        "心口疼",
        "心口痛",
        "心口闷",
        "胸口疼",
        "胸口痛",
        "胸口闷",
        "胸口憋",
        "胸憋",
        "胸部疼痛",
        "胸部不适",
        "胸口不舒服",
        "心口不舒服",
        "心绞痛",
        "胸前区疼痛",
        "胸部压迫感",
        "胸口压着",
        "胸口发紧",
        "压榨感",
        "胸口憋闷",
        "胸口堵",
        "心口堵",
        "胸口发堵",
        "心口窝疼",
        "胸口堵得慌",
        "心口堵得慌",
    ),
    "呼吸困难": (
        "呼吸困难",
        "喘不上气",
        "喘不过气",
        "透不过气",
        "上不来气",
        "喘不过来",
        "气短",
        "气急",
        "气促",
        "憋气",
        "憋得慌",
        "呼吸急促",
        "呼吸费力",
        "气喘",
        "喘气费劲",
        "气不够用",
        "走路喘",
        "憋醒",
        "夜里憋醒",
        "不能平躺",
        "躺不平",
        "端坐呼吸",
        "喘",
        "上气不接下气",
        "气上不来",
        "倒不上气",
        "喘不动",
        "喘不匀",
        "出不来气",
    ),
    "头痛": (
        "头痛",
        "头疼",
        "偏头痛",
        "脑袋疼",
        "脑袋痛",
        "头胀痛",
        "头胀",
        "头部疼痛",
        "脑壳疼",
        "脑壳痛",
        "脑仁疼",
        "头疼欲裂",
        "头痛欲裂",
        "头要炸了",
        "太阳穴疼",
        "后脑勺疼",
    ),
    "头晕": (
        "头晕",
        "头昏",
        "眩晕",
        "发晕",
        "晕乎乎",
        "头昏脑涨",
        "天旋地转",
        "头重脚轻",
        "站不稳",
        "头晕眼花",
        "晕",
        "头昏脑胀",
        "眼冒金星",
        "眼前冒金星",
        "晕晕乎乎",
        "晕头转向",
        "犯晕",
        "脑壳晕",
        "脑壳昏",
    ),
    "心悸": (
        "心悸",
        "心慌",
        "心里发慌",
        "心里慌",
        "心跳快",
        "心跳加快",
        "心跳加速",
        "心跳很快",
        "心跳得厉害",
        "心跳不规律",
        "心率快",
        "心律不齐",
        "早搏",
        "心扑通扑通",
        "心乱跳",
        "心动过速",
        "心发慌",
        "心怦怦跳",
        "心突突跳",
        "心里扑腾",
        "心跳得慌",
    ),
    "恶心呕吐": (
        "恶心",
        "呕吐",
        "想吐",
        "吐了",
        "反胃",
        "干呕",
        "作呕",
        "犯恶心",
        "想呕",
        "恶心想吐",
        "吐得厉害",
    ),
    "视物模糊": (
        "视物模糊",
        "视力模糊",
        "视线模糊",
        "看不清",
        "看不清楚",
        "看东西模糊",
        "眼睛模糊",
        "眼花",
        "重影",
        "看东西重影",
        "眼前发黑",
        "眼前发花",
        "头晕眼花",
        "看不真切",
        "眼睛发花",
        "眼睛花",
        "眼前一片模糊",
    ),
    "水肿": (
        "水肿",
        "浮肿",
        "脚肿",
        "腿肿",
        "脚踝肿",
        "下肢水肿",
        "脸肿",
        "眼皮肿",
        "腿脚肿",
        "肿",
        "按下去一个坑",
        "一按一个坑",
        "脚脖子肿",
        "鞋穿不进",
        "鞋子穿不上",
    ),
    "发热": (
        "发热",
        "发烧",
        "高烧",
        "低烧",
        "发高烧",
        "发低烧",
        "体温高",
        "体温升高",
        "寒战",
        "打寒颤",
        "烧起来",
        "打摆子",
        "忽冷忽热",
        "发冷发热",
        "浑身发烫",
        "身上发烫",
        "打冷颤",
        "打寒战",
    ),
    "伤口异常": (
        "伤口红肿",
        "伤口疼",
        "伤口痛",
        "伤口流脓",
        "伤口化脓",
        "伤口渗液",
        "伤口渗血",
        "伤口裂开",
        "伤口感染",
        "伤口发炎",
        "伤口发红",
        "伤口流水",
        "伤口不愈合",
        "刀口红肿",
        "刀口疼",
        "刀口裂开",
        "刀口流水",
        "刀口化脓",
        "切口红肿",
        "切口裂开",
        "刀口发红",
    ),
    "出血": (
        "出血",
        "流血",
        "便血",
        "尿血",
        "血尿",
        "咯血",
        "咳血",
        "吐血",
        "黑便",
        "大便发黑",
        "大便带血",
        "痰中带血",
        "牙龈出血",
        "鼻出血",
        "流鼻血",
        "皮下出血",
        "瘀斑",
        "出血点",
        "阴道出血",
        "淤青",
        "淤斑",
        "青一块紫一块",
        "拉血",
        "解黑便",
    ),
    "情绪问题": (
        "情绪低落",
        "情绪不好",
        "心情不好",
        "心情差",
        "心情低落",
        "不开心",
        "高兴不起来",
        "焦虑",
        "抑郁",
        "烦躁",
        "心烦",
        "郁闷",
        "闷闷不乐",
        "难过",
        "想哭",
        "睡不着",
        "失眠",
        "害怕",
        "压力大",
        "没兴趣",
        "提不起精神",
        "提不起劲",
        "紧张",
        "孤独",
        "发愁",
        "胡思乱想",
        "憋屈",
        "没心思",
    ),
    "自伤风险": (
        "不想活",
        "不想活了",
        "想死",
        "自杀",
        "轻生",
        "寻死",
        "活着没意思",
        "活着没有意思",
        "结束生命",
        "伤害自己",
        "割腕",
        "跳楼",
        "一了百了",
        "活不下去",
        "死了算了",
        "不如死了",
        "想不开",
        "了结自己",
        "自残",
        "活够了",
        "活腻了",
        "活腻歪了",
        "不想活下去",
        "活着没劲",
        "活着太累",
        "没活头",
        "没有活头",
        "一死了之",
        "死了干净",
        "还不如死了",
        "想去死",
        "寻短见",
        "早死早超生",
        "不想醒来",
        "喝农药",
        "上吊",
        "跳河",
    ),
}

CANONICAL: tuple[str, ...] = tuple(SYNONYMS)

# Words that hold a symptom word but say something else, kept whole so it never fires
# inside them (as 肿 never does inside 肿瘤): 干活够了 is work, not 活够了.
NOT_SYMPTOMS = frozenset({"干活够了", "农活够了", "活儿够了"})

# Body part + sensation, said apart with degree words or a negation between them:
# 胸口有点痛 (fires), 胸不痛了 (negated), 伤口没有红肿 (negated).
PAIRS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "胸痛胸闷": (
        ("胸", "胸口", "心口", "胸部", "前胸", "心前区", "心口窝"),
        (
            "痛",
            "疼",
            "闷",
            "发闷",
            "憋",
            "憋闷",
            "紧",
            "发紧",
            "疼痛",
            "刺痛",
            "难受",
            "不舒服",
            # 胸口像压了块石头, 心口堵得慌
            "压",
            "压着",
            "压得慌",
            "堵",
            "发堵",
            "堵得慌",
            "针扎",
        ),
    ),
    "头痛": (
        ("头", "脑袋", "头部", "脑壳", "脑瓜", "脑瓜子", "脑仁", "太阳穴", "后脑勺"),
        ("痛", "疼", "胀", "胀痛", "疼痛"),
    ),
    "头晕": (("头", "脑袋", "脑壳", "脑瓜", "脑瓜子"), ("晕", "昏", "发晕", "昏沉", "沉", "发沉")),
    "呼吸困难": (("呼吸", "喘气", "出气"), ("困难", "费力", "急促", "不畅", "费劲")),
    "心悸": (
        ("心", "心跳", "心脏", "心里"),
        (
            "慌",
            "快",
            "乱跳",
            "加速",
            "不规律",
            "跳得厉害",
            # 心里扑通扑通的, 心怦怦的
            "扑通",
            "扑通扑通",
            "怦怦",
            "怦怦跳",
            "突突",
            "突突跳",
            "咚咚",
            "扑腾",
        ),
    ),
    "视物模糊": (
        ("眼睛", "眼", "视力", "看东西", "看字"),
        ("模糊", "花", "发花", "看不清", "下降", "模模糊糊", "模糊不清", "雾蒙蒙", "蒙"),
    ),
    "水肿": (
        ("脚", "腿", "脚踝", "脸", "眼皮", "下肢", "双腿", "小腿", "双脚", "腿脚", "脚脖子"),
        ("肿", "浮肿", "水肿", "发肿", "肿胀"),
    ),
    "发热": (("体温",), ("高", "升高", "偏高")),
    # 尿里有血, 大便带血丝: where the blood is, then the blood.
    "出血": (
        ("尿", "小便", "大便", "便", "屎", "痰", "鼻涕", "牙龈", "牙", "鼻子"),
        ("血", "带血", "出血", "有血", "血丝", "带血丝", "血块"),
    ),
    "伤口异常": (
        ("伤口", "刀口", "切口"),
        (
            "红",
            "肿",
            "红肿",
            "发红",
            "流脓",
            "化脓",
            "渗液",
            "渗血",
            "裂开",
            "发炎",
            "感染",
            "疼",
            "痛",
            "流水",
            "流黄水",
            "不愈合",
            "长不好",
        ),
    ),
}

# Said before a symptom: 没有胸痛, 不头晕, 否认胸闷.
NEGATORS = frozenset(
    {
        "没有",
        "没",
        "无",
        "不",
        "未",
        "否认",
        "并无",
        "并没有",
        "从未",
        "没什么",
        "不再",
        "未见",
        "毫无",
        "没再",
        "不怎么",
        "也没有",
        "都没有",
        "没出现",
        "未出现",
        "没得",
    }
)
# Deny a statement, so a negation after them is taken back: 不是没有胸痛, 不能说没有胸痛.
# Alone they do not negate (胸口不是很痛, 不是一直胸痛, 我不是想死 all fire), except in a
# correction said right before the symptom word: 不是头痛，是头晕 (never for 自伤风险).
DENIALS = frozenset({"不是", "并不是", "也不是", "并非", "不能说", "不是说", "谁说"})
# Said after it: 胸痛没有了, 头晕好了, 发热已经消失. (胸痛没有缓解 is not a negation.)
POST_NEGATIONS = frozenset(
    {
        "没有",
        "没",
        "没了",
        "没有了",
        "消失",
        "消失了",
        "好了",
        "痊愈",
        "不见",
        "不见了",
        "不明显",
        "不再",
        "无",
        "已愈",
        "退了",
    }
)
# A clause of only one of these (and fillers) says the symptoms of the clause before are
# gone: 以前胸痛，现在没有了; 前两天发烧，今天好了. (A bare 没有 is an answer, not this.)
# It takes them back only if they were said of the past or it says "now" (NOW); a bare
# 胸痛，好了 is not enough, and 好了一点 (DEGREE) is better, not gone.
GONE = frozenset(
    {"没有了", "没了", "消失了", "好了", "全好了", "都好了", "不见了", "痊愈", "已愈", "退了"}
    | {"没事了", "好利索了", "好啦"}
)
# "Now" in a gone clause: 胸痛，现在好了 takes 胸痛 back.
NOW = frozenset({"现在", "今天", "目前", "如今", "已经", "早就", "已", "这两天", "这几天"})
# Better, not gone: 胸口疼，现在好了一点; 好多了.
DEGREE = frozenset(
    {"一点", "点", "些", "一些", "多了", "好多", "很多", "一点点", "点儿", "一点儿", "不少"}
    | {"许多", "些许", "稍微", "一半", "大半"}
)
# A clause with one of these speaks of the past: 以前胸痛, 前两天发烧. A symptom said only
# of the past is taken back by a gone clause (以前胸痛，现在没有了) or by a later denial of
# the same word that says it changed (以前头晕，现在不晕了) — not by any later negation
# (昨天开始胸痛，但没有胸闷 keeps the chest pain). 原来/本来 are not here: 原来是胸痛 is a
# discovery, not the past; a time word before 开始/起 says when it started (SINCE).
PAST = frozenset(
    {
        "以前",
        "之前",
        "从前",
        "当时",
        "那时",
        "那时候",
        "前两天",
        "前几天",
        "前天",
        "昨天",
        "上周",
        "上个月",
        "上次",
        "刚出院",
        "出院时",
        "刚开始",
        "一开始",
        "起初",
    }
)
# 昨天开始胸痛, 从昨天起发烧: it started then and is still there.
SINCE = frozenset({"开始", "起", "以来", "至今", "到现在", "到今天"})
# A denial that says the symptom changed (不晕了, 不再, 没有了): only this takes back a past
# mention of the same word.
CHANGED = frozenset({"了", "不再", "没再", "没了", "没有了", "好了", "消失了", "不见了"})
# Back again: 胸痛退了又来了, 以前胸痛，现在没有了，但是昨天又痛了. After a post-negation,
# one of AGAIN then (past fillers) one of RETURNS says it is back.
AGAIN = frozenset({"又", "再", "还", "又是", "再次", "重新"})
RETURNS = frozenset(
    {"来", "来了", "犯", "犯了", "发作", "开始", "出现", "回来", "痛", "疼", "闷", "晕", "肿"}
    | {"烧", "慌", "有", "喘", "复发", "反复"}
)
# Said of the past, these stay present though denied now (以前想死，现在好了): a history
# of self-harm thoughts is itself the risk, and missing it is the worst miss.
NEVER_TAKEN_BACK = frozenset({"自伤风险"})
# A negation about "the others" leaves the symptom said alone: 除了腿肿没别的.
OTHERS = frozenset({"别的", "其他", "其它", "其他的", "其它的", "其余", "别", "另外"})
EXCEPT = frozenset({"除了", "除开", "除去", "只有"})
# After a post-negation these mean the symptom is still there: 没有缓解, 没好.
STILL_THERE = frozenset({"缓解", "好转", "减轻", "改善", "好", "消失", "停", "退", "变化"})
# 胸口疼得没有办法睡觉: what follows 得 says how much, so a negation after it is not about
# the symptom before it.
COMPLEMENT = frozenset({"得"})
# 不是头痛，是头晕 / 不是头痛而是头晕: a correction, which lets the denial negate.
CORRECTION = frozenset({"是", "而是"})
# Between a negator and the symptom, or between the words of a pair.
FILLERS = frozenset(
    {
        "也",
        "都",
        "还",
        "再",
        "并",
        "已经",
        "已",
        "一直",
        "从来",
        "什么",
        "任何",
        "明显",
        "出现",
        "出现过",
        "感到",
        "感觉",
        "觉得",
        "有",
        "过",
        "发生",
        "再次",
        "的",
        "其他",
        "和",
        "或",
        "或者",
        "及",
        "以及",
        "、",
        "与",
        "跟",
        "特别",
        "太",
        "怎么",
        "有点",
        "有些",
        "有一点",
        "一点",
        "很",
        "非常",
        "老",
        "老是",
        "总",
        "总是",
        "又",
        "还是",
        "经常",
        "偶尔",
        "时常",
        "时不时",
        "比较",
        "挺",
        "好像",
        "常常",
        "会",
        "开始",
        "就",
        "还有点",
        "一阵阵",
        "阵阵",
        "一阵",
        "些",
        "点",
        "了",
        "现在",
        "基本",
        "基本上",
        "完全",
        "早就",
        "今天",
        "最近",
        "这几天",
        "偶有",
        "稍微",
        "有时",
        "有时候",
        "部",
        "想",
        "想过",
        "打算",
        "要",
        "再有",
        "出现什么",
        "像",
        "里",
        "里面",
        "得",
        "目前",
        "如今",
        # 胸口那里有点闷: where on the body part
        "这里",
        "那里",
        "这儿",
        "那儿",
        "这块",
        "那块",
    }
)
# A clause holding one of these is a question (often ours, quoted back), not a statement.
QUESTION_MARKERS = frozenset(
    {"有没有", "有无", "是否", "是不是", "会不会", "吗", "么", "嘛", "请问", "您", "可否"}
)
# A reply that is only one of these answers the question before it.
# A repeated verb (想不想死？想 / 有没有想过伤害自己？想过) says yes too; a repeated
# sensation (有没有胸痛？痛) is read by the detector for the symptoms felt so.
AFFIRMATIVE = frozenset(
    {"有", "有的", "是", "是的", "对", "嗯", "有点", "有一点", "会", "偶尔有"}
    | {"想", "想过", "有过", "想了"}
)
NEGATIVE = frozenset(
    {
        "没有",
        "没",
        "无",
        "没有的",
        "不",
        "否",
        "都没有",
        "都没",
        "不会",
        "没得",
        "没啥",
        "均无",
        "都无",
        "没事",
        "挺好",
        "很好",
        "正常",
        "一切正常",
        # 有没有不舒服？— the answer of a check-up call's key 1 (outreach.compose) too
        "没有不舒服",
        "没有不适",
    }
)
# A bare no to a wish asked about (想不想死？不想); only the detector reads these.
NEGATIVE_WISH = frozenset({"不想", "没想过", "没有想过", "从没想过", "从来没想过", "没有过"})
# Who a bare answer is about, and words that leave it bare: 我没有, 他都没有, 现在没有.
ANSWER_FILLERS = frozenset(
    {"我", "俺", "咱", "本人", "他", "她", "老人", "病人", "患者", "都", "也", "还", "现在"}
    | {"目前", "暂时", "今天", "一直", "从来", "基本", "基本上", "完全", "倒是", "确实"}
)
PARTICLES = frozenset({"了", "啊", "呢", "的", "呀", "哦", "喔", "吧", "哈", "啦", "嗯嗯", "~"})
# Clause boundaries inside a sentence: "没有胸痛，但是头晕".
CONTRAST = frozenset({"但", "但是", "可是", "不过", "只是", "就是", "然而", "却"})
# Ends a negation's scope inside a clause without cutting it (是胸痛还是头晕 stays one
# question): 没有胸痛还是头晕, 胸口不疼了还是闷.
SCOPE_ENDS = frozenset({"还是"}) | CONTRAST
# Between the items of a list: 胸口不疼和闷 reads the list's negation on, 胸口不疼了还有点闷
# does not.
LIST_JOINS = frozenset({"、", "和", "或", "或者", "及", "以及", "与", "跟"})
# The condition of a piece of advice (医生说如果胸痛就来医院): what is said between one of
# these and the end of the condition (就, 的话, 那么 or the clause's end) does not fire —
# but self-harm does (如果我想死怎么办), and what follows 就 does (我要是走路就胸闷).
CONDITIONAL = frozenset(
    {"如果", "要是", "一旦", "万一", "假如", "假设", "倘若", "如若", "若是", "假若"}
)
CONDITION_ENDS = frozenset({"就", "的话", "那么", "那", "则", "便"})
# A condition is advice, not a report, when advice is quoted before it (医生说如果…) or
# what follows is to seek care (…就来医院, …就打120).
ADVICE_QUOTED = ("说", "让", "叫", "嘱", "告诉", "提醒", "交代", "建议")
SEEK_CARE = ("医院", "就医", "就诊", "急诊", "120", "看医生", "找医生", "联系医生", "来院")
# A bare 没有 after a symptom is an answer, not "gone" — unless it says now (现在没有,
# 已经没有): 以前有过胸痛，现在没有.
GONE_NOW = frozenset({"没有", "没", "没得"})
# Sentence ends: a sensation said alone (还有点闷) takes its body part (胸口) from the clause
# before it only within the sentence.
SENTENCE_ENDS = "。.!?\n\r"

# Traditional characters of the words above, read as simplified (胸悶 → 胸闷, 頭暈 → 头晕).
# Only characters that simplified text never uses, so a simplified reply is left as it is
# (著 is not here: simplified writes 显著 with it).
TRADITIONAL = str.maketrans(
    "與東個麼樂亂從傷體會興減幾動勁區卻厲壓發髮變嗎嘔噁惡夠頭對尋爾帶乾幹並開張總戰撲無時顯暈"
    "殺來樓殘氣沒漲滲溫煩燒熱點獨現穩緊紅線經結絞緒緩腫脹臟髒腦膿腳臉慮見規視覺認請費轉輕較過"
    "還這適鬱裡裏問悶陰陣難顫齊齦癒殼擺燙們醫說兩別為後樣塊絲糞藥當該讓異讀紮慣愛臥夢聽話鬧憂"
    "歲歡腸膽腎癢療喚頸頰嚨膩農陽騰霧濛矇針窩勻進渾黃長",
    "与东个么乐乱从伤体会兴减几动劲区却厉压发发变吗呕恶恶够头对寻尔带干干并开张总战扑无时显晕"
    "杀来楼残气没涨渗温烦烧热点独现稳紧红线经结绞绪缓肿胀脏脏脑脓脚脸虑见规视觉认请费转轻较过"
    "还这适郁里里问闷阴阵难颤齐龈愈壳摆烫们医说两别为后样块丝粪药当该让异读扎惯爱卧梦听话闹忧"
    "岁欢肠胆肾痒疗唤颈颊咙腻农阳腾雾蒙蒙针窝匀进浑黄长",
)
