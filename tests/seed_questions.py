"""Questions about the seeds, in our own words, with the words the answering sentence must hold.

Each expectation lists alternatives: the sentence that answers must contain one of them.
"""

ANSWERABLE = [
    ("What was the typical caseload per social worker in Kent in September 2021?", ["16.4"]),
    ("How many councils out of 154 achieved an outstanding grade?", ["one of only 20"]),
    ("Who is able to run their own review meetings?", ["chair their review meetings"]),
    ("How much money did the council put into increasing social work numbers?", ["£1.4m"]),
    ("How many inspectors carried out the inspection?", ["seven Ofsted"]),
    ("How long did the inspection of children's services last?", ["3 week period", "3 week"]),
    ("What was the size of the backlog of unallocated cases at its worst?", ["2,700"]),
    ("Which chief inspector commented on the progress since the 2010 inspection?", ["Pietro Battista"]),
    ("Which award was the virtual school the first to receive?", ["National Nurturing Schools"]),
    ("How many newly qualified social workers are joining the council?", ["60 newly qualified"]),
    ("By when will the action plan be produced?", ["November 2022"]),
    ("During which months did Kent refuse to take young asylum seekers into care?", ["June to September 2021"]),
    ("Who is Ofsted's National Director for Regulation and Social Care?", ["Yvette Stanley"]),
    ("What rating did Kent get at its previous inspection in 2017?", ["“Good” services", "good rating it earned in 2017"]),
    ("When did the national transfer scheme become mandatory?", ["December 2021"]),
    ("How do foster carers feel about the support they receive?", ["universally positive"]),
    ("How do social workers communicate with disabled children in care?", ["facial expressions"]),
    ("Which councillor is the cabinet member for education?", ["mike whiting"]),
    ("What is wrong with the system for recording cases?", ["recording cases remains inefficient"]),
    ("On what date did the cabinet consider the Ofsted report?", ["21 July 2022"]),
    ("What did the report say about how young people are employed as apprentices?",
     ["young apprentices", "apprenticeships"]),
    ("Which interim director welcomed the judgement?", ["Sarah Hammond"]),
    ("Why was Kent not rated outstanding for help and protection?", ["high social work caseloads", "prevented Kent"]),
    ("How many judgements did inspectors score Kent's services against?", ["four judgements", "three of the four", "three \njudgements", "three judgements"]),
]

UNANSWERABLE = [
    "What is the boiling point of water?",
    "Who won the football World Cup in 2018?",
    "What is the capital city of Australia?",
    "How do I reset my wifi router password?",
    "What is a good recipe for chocolate cake?",
    "How many moons does Jupiter have?",
    "What programming language is Django written in?",
    "When was the Eiffel Tower built?",
]
