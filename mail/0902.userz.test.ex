From carol@elsewhere.example Tue Mar 02 09:44:33 1999
Received: from CALLER by myhost.test.ex with local (Exim x.yz)
	(envelope-from <carol@elsewhere.example>)
	id 10HmaZ-0005vi-00
	for userz@test.ex;
	Tue, 2 Mar 1999 09:44:33 +0000
Subject: message 3, carol to userz@test.ex
Message-Id: <E10HmaZ-0005vi-00@myhost.test.ex>
From: CALLER_NAME <carol@elsewhere.example>
Sender: CALLER_NAME <CALLER@test.ex>
Date: Tue, 2 Mar 1999 09:44:33 +0000

Body 3.

