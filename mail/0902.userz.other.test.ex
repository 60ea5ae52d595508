From alice@senders.example Tue Mar 02 09:44:33 1999
Received: from CALLER by myhost.test.ex with local (Exim x.yz)
	(envelope-from <alice@senders.example>)
	id 10HmbA-0005vi-00
	for userz@other.test.ex;
	Tue, 2 Mar 1999 09:44:33 +0000
Subject: message 4, alice to userz@other.test.ex
Message-Id: <E10HmbA-0005vi-00@myhost.test.ex>
From: CALLER_NAME <alice@senders.example>
Sender: CALLER_NAME <CALLER@test.ex>
Date: Tue, 2 Mar 1999 09:44:33 +0000

Body 4.

