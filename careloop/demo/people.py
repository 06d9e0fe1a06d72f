"""Synthetic people for demo and benchmark data: Chinese names, valid-checksum ID numbers,
mobile numbers, addresses. Deterministic: person ``i`` is always the same, and distinct
``i`` never share an ID number, phone or card number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from careloop.patients.identity import make_id_number
from careloop.patients.services import luhn_check_digit

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
MALE_GIVEN = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宁建国志文浩宇俊峰海林东亮成龙宏兵春德永福"
FEMALE_GIVEN = "芳娜敏静丽艳娟霞秀英玲桂兰萍红梅琳洁燕婷雪慧倩颖莉玉凤华珍云翠琴淑荣佳丹晶"
REGIONS = [
    ("110101", "北京市东城区"),
    ("110105", "北京市朝阳区"),
    ("310101", "上海市黄浦区"),
    ("310104", "上海市徐汇区"),
    ("320102", "南京市玄武区"),
    ("330106", "杭州市西湖区"),
    ("440103", "广州市荔湾区"),
    ("440305", "深圳市南山区"),
    ("420106", "武汉市武昌区"),
    ("510104", "成都市锦江区"),
    ("610113", "西安市雁塔区"),
    ("370102", "济南市历下区"),
    ("210102", "沈阳市和平区"),
    ("500103", "重庆市渝中区"),
    ("430102", "长沙市芙蓉区"),
    ("350102", "福州市鼓楼区"),
]
STREETS = [
    "幸福路",
    "建设路",
    "人民路",
    "解放路",
    "中山路",
    "和平街",
    "长江路",
    "健康路",
    "光明街",
    "新华路",
    "文化路",
    "育才路",
]
BIRTH_START = date(1935, 1, 1)
BIRTH_SPAN_DAYS = 22000  # to 1995: adults of 30–90, where chronic disease is
PHONE_PREFIXES = ("135", "136", "137", "138", "139", "150", "151", "158", "186", "188", "189")


@dataclass(frozen=True)
class Person:
    index: int
    name: str
    sex: str
    birth_date: date
    id_number: str
    phone: str
    address: str
    card_number: str


def rng_for(index: int, salt: str = "") -> random.Random:
    return random.Random(f"careloop-demo-{salt}-{index}")  # noqa: S311 - synthetic data


def demo_card_number(index: int) -> str:
    body = "9" + f"{(index * 104729 + 1234567) % 10**10:010d}"
    return body + luhn_check_digit(body)


def person(index: int) -> Person:
    rng = rng_for(index)
    sex = "male" if rng.random() < 0.48 else "female"
    # Birth date and sequence number are bijections of the index, so ID numbers never collide.
    birth = BIRTH_START + timedelta(days=(index * 7919) % BIRTH_SPAN_DAYS)
    sequence = ((index // BIRTH_SPAN_DAYS) * 2 + (1 if sex == "male" else 0)) % 1000
    region, city = rng.choice(REGIONS)
    given_pool = MALE_GIVEN if sex == "male" else FEMALE_GIVEN
    given = rng.choice(given_pool) + (rng.choice(given_pool) if rng.random() < 0.7 else "")
    prefix = PHONE_PREFIXES[index % len(PHONE_PREFIXES)]
    phone = prefix + f"{(index // len(PHONE_PREFIXES) * 7919 + 2468) % 10**8:08d}"
    address = (
        f"{city}{rng.choice(STREETS)}{rng.randint(1, 300)}号"
        f"{rng.randint(1, 12)}栋{rng.randint(1, 6)}单元{rng.randint(101, 2802)}室"
    )
    return Person(
        index=index,
        name=rng.choice(SURNAMES) + given,
        sex=sex,
        birth_date=birth,
        id_number=make_id_number(region, birth, sequence),
        phone=phone,
        address=address,
        card_number=demo_card_number(index),
    )
